/* wsfeed.c - the live transport: libwebsockets client connections, whole
 * messages with their receive time, silence, reconnects with backoff, and
 * the renewal that overlaps a new connection and switches at the seam. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "wsfeed.h"

#define HOLD_MAX 65536		/* messages of a new connection held for the seam */

enum { C_FREE, C_CONNECTING, C_OPEN, C_DEAD };

struct conn {
	struct chr_ws *w;
	struct lws *wsi;
	int state;
	uint64_t id;
	int64_t start, last_rx;	/* monotonic ns; last_rx: a message, a pong, or
				 * any bytes seen in the socket */
	int64_t ping_at;	/* monotonic ns: the next ping is due */
	int ping;		/* a ping to send when writable */
	int delivered;		/* has delivered (or held) a message */
	char *buf;		/* the message being put together */
	size_t len, cap;
	int64_t first_ns;	/* its receive time */
	int64_t rx_ns;		/* the receive time of the socket read under way:
				 * the kernel's stamp of its first bytes (0: none,
				 * taken in the callback) */
	char why[256];		/* what ended it */
};

struct held {
	char *data;
	size_t len;
	int64_t ns;
};

struct chr_ws {
	lws_sorted_usec_list_t sul;	/* the run's wake-up */
	struct lws_context *ctx;
	struct lws_protocols protos[2];
	struct chr_ws_opts o;
	struct chr_ws_cb cb;
	char url[1024], host[512], hosthdr[600], path[1024];
	int port, ssl;
	struct conn c[2];
	struct conn *cur, *nxt;	/* the connection delivering; the renewal */
	int lost;		/* a DOWN reported, no UP since */
	unsigned attempts;	/* failed attempts in a row */
	unsigned flaps;		/* connections in a row lost before stable_ns */
	int64_t retry_at, renew_at, overlap_until;	/* monotonic ns */
	unsigned renew_fails;
	struct held *held;	/* the renewal's messages, until the seam */
	size_t nheld;
	char *last;		/* cur's last delivered message */
	size_t lastlen, lastcap;
	char lastwhy[256];
	int rc;			/* a callback's non-zero value: stop */
	int64_t last_ns;	/* the last delivered message's receive time */
	struct chr_ws_stats st;
};

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void chr_ws_opts_default(struct chr_ws_opts *o)
{
	if (!o->silence_ns)
		o->silence_ns = 10 * (int64_t)1000000000;
	if (!o->max_age_ns)
		o->max_age_ns = 23 * 3600 * (int64_t)1000000000;
	if (!o->overlap_ns)
		o->overlap_ns = 10 * (int64_t)1000000000;
	if (!o->backoff_min_ns)
		o->backoff_min_ns = 100000000;
	if (!o->backoff_max_ns)
		o->backoff_max_ns = 30 * (int64_t)1000000000;
	if (!o->stable_ns)
		o->stable_ns = o->silence_ns;
	if (!o->ping_ns)
		o->ping_ns = o->silence_ns / 3;
	if (!o->max_msg)
		o->max_msg = 64 << 20;
}

static int event(struct chr_ws *w, struct chr_ws_info *in)
{
	in->ns = real_ns();
	if (!w->rc && w->cb.event)
		w->rc = w->cb.event(w->cb.ctx, in);
	return w->rc;
}

static void deliver(struct chr_ws *w, int64_t ns, const char *data, size_t len)
{
	if (w->rc)
		return;		/* stopping: the caller has what it wanted */
	/* a kernel stamp of bytes still in the socket can be earlier than the
	 * clock read for a message libwebsockets read itself before them */
	if (ns < w->last_ns)
		ns = w->last_ns;
	w->last_ns = ns;
	w->st.msgs++;
	w->st.bytes += len;
	if (w->cb.msg)
		w->rc = w->cb.msg(w->cb.ctx, ns, data, len);
}

static int64_t backoff(const struct chr_ws *w, unsigned n)
{
	int64_t d = w->o.backoff_min_ns;

	while (--n > 0 && d < w->o.backoff_max_ns)
		d *= 2;
	return d < w->o.backoff_max_ns ? d : w->o.backoff_max_ns;
}

static void held_free(struct chr_ws *w)
{
	for (size_t i = 0; i < w->nheld; i++)
		free(w->held[i].data);
	w->nheld = 0;
}

/* forget c: its wsi, when lws has not closed it, is closed (later, by
 * lws, with no more calls about it), its buffer freed */
static void conn_free(struct conn *c)
{
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	free(c->buf);
	memset(c, 0, sizeof *c);
}

static void conn_dead(struct conn *c);

/* a connection attempt into *slot (w->cur or w->nxt); it may fail at once */
static void conn_open(struct chr_ws *w, struct conn **slot)
{
	struct lws_client_connect_info ci;
	struct conn *c = w->c[0].state == C_FREE ? &w->c[0] : &w->c[1];
	struct lws *wsi;

	memset(c, 0, sizeof *c);
	*slot = c;
	c->w = w;
	c->state = C_CONNECTING;
	c->start = c->last_rx = mono_ns();
	c->id = ++w->st.conns;
	memset(&ci, 0, sizeof ci);
	ci.context = w->ctx;
	ci.address = w->host;
	ci.port = w->port;
	ci.path = w->path;
	ci.host = w->hosthdr;
	ci.origin = w->hosthdr;
	ci.ssl_connection = w->ssl ? LCCSCF_USE_SSL : 0;
	ci.protocol = NULL;
	ci.local_protocol_name = w->protos[0].name;
	ci.opaque_user_data = c;
	/* a failure may be told by the callback before this returns */
	wsi = lws_client_connect_via_info(&ci);
	if (c->state != C_CONNECTING || c->id != w->st.conns)
		return;
	c->wsi = wsi;
	if (!wsi) {
		snprintf(c->why, sizeof c->why, "cannot connect");
		conn_dead(c);
	}
}

/* the renewal nxt replaces cur: held messages from skip on are delivered */
static void switch_to_next(struct chr_ws *w, int seamless, size_t skip, const char *why)
{
	struct chr_ws_info in = { .ev = CHR_WS_RENEWED, .seamless = seamless, .why = why };
	struct conn *old = w->cur;

	w->cur = w->nxt;
	w->nxt = NULL;
	w->renew_at = w->cur->start + w->o.max_age_ns;
	w->renew_fails = 0;
	w->st.renewals++;
	w->st.seamless += seamless != 0;
	conn_free(old);
	in.conn = w->cur->id;
	event(w, &in);
	for (size_t i = skip; i < w->nheld; i++)
		deliver(w, w->held[i].ns, w->held[i].data, w->held[i].len);
	held_free(w);
	w->lastlen = 0;
}

static int same(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

/* a whole message of c */
static void on_message(struct conn *c, int64_t ns, const char *data, size_t len)
{
	struct chr_ws *w = c->w;
	struct held *h;

	if (!c->delivered && c == w->cur) {
		c->delivered = 1;
		w->attempts = 0;	/* the backoff's count, flaps, waits for stable_ns */
		if (w->lost) {
			w->lost = 0;
			event(w, &(struct chr_ws_info){ .ev = CHR_WS_UP, .conn = c->id });
		}
	}
	c->delivered = 1;
	if (c == w->cur) {
		deliver(w, ns, data, len);
		if (!w->nxt)
			return;
		for (size_t i = 0; i < w->nheld; i++)
			if (same(w->held[i].data, w->held[i].len, data, len))
				return switch_to_next(w, 1, i + 1, NULL);
		if (w->lastcap < len) {
			char *p = realloc(w->last, len);

			if (!p)
				return;
			w->last = p;
			w->lastcap = len;
		}
		memcpy(w->last, data, len);
		w->lastlen = len;
		return;
	}
	/* the renewal: its message is the seam when cur delivered it last */
	if (w->lastlen && same(w->last, w->lastlen, data, len))
		return switch_to_next(w, 1, w->nheld, NULL);
	if (w->nheld == HOLD_MAX)
		return switch_to_next(w, 0, 0, "the connections have no message in common");
	h = &w->held[w->nheld];
	if (!(h->data = malloc(len ? len : 1)))
		return switch_to_next(w, 0, 0, "out of memory");
	memcpy(h->data, data, len);
	h->len = len;
	h->ns = ns;
	w->nheld++;
}

/* c ended (c->why says how): the renewal is given up, the connection
 * delivering is lost (DOWN) or the attempt failed (RETRY) */
static void conn_dead(struct conn *c)
{
	struct chr_ws *w = c->w;
	int64_t now = mono_ns();
	struct chr_ws_info in = { .conn = c->id };

	c->state = C_DEAD;
	snprintf(w->lastwhy, sizeof w->lastwhy, "%s", c->why);
	if (c == w->nxt) {
		held_free(w);
		w->nxt = NULL;
		w->renew_at = now + backoff(w, ++w->renew_fails);
		conn_free(c);
		return;
	}
	if (c != w->cur)
		return conn_free(c);
	if (w->nxt && w->nxt->state == C_OPEN)
		return switch_to_next(w, 0, 0, "the old connection ended before the seam");
	in.why = w->lastwhy;
	if (c->delivered) {
		/* a lost connection is tried again at once when it had been
		 * up for stable_ns; one lost sooner (a flapping link, an
		 * exchange that drops at once) waits as a failed attempt */
		if (now - c->start >= w->o.stable_ns)
			w->flaps = 0;
		else
			w->flaps++;
		w->retry_at = w->flaps ? now + backoff(w, w->flaps) : now;
		in.retry_ns = w->retry_at - now;
		w->st.downs++;
		w->lost = 1;
		in.ev = CHR_WS_DOWN;
		event(w, &in);
		if (w->nxt) {	/* a renewal under way is the reconnect */
			w->cur = w->nxt;
			w->nxt = NULL;
			w->lastlen = 0;
			return conn_free(c);
		}
	} else {
		w->attempts++;
		w->retry_at = now + backoff(w, w->attempts + w->flaps);
		in.ev = CHR_WS_RETRY;
		in.attempt = w->attempts;
		in.retry_ns = w->retry_at - now;
		event(w, &in);
	}
	w->cur = NULL;
	conn_free(c);
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons why, void *user, void *in, size_t len)
{
	struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	int64_t ns;

	(void)user;
	if (!c || c->state == C_DEAD || c->state == C_FREE)
		return 0;
	switch (why) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->state = C_OPEN;
		c->last_rx = mono_ns();
		/* the kernel stamps each segment it receives (stamp_reads) */
		setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 },
			   sizeof(int));
		c->ping_at = c->last_rx + c->w->o.ping_ns;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->last_rx = mono_ns();	/* alive, however quiet its streams */
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->ping) {
			unsigned char b[LWS_PRE + 1];

			c->ping = 0;
			if (lws_write(wsi, b + LWS_PRE, 0, LWS_WRITE_PING) < 0) {
				snprintf(c->why, sizeof c->why, "cannot send a ping");
				c->wsi = NULL;	/* closed by the -1 */
				conn_dead(c);
				return -1;
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		ns = c->rx_ns ? c->rx_ns : real_ns();
		c->last_rx = mono_ns();
		if (c->len == 0)
			c->first_ns = ns;
		if (c->len + len > c->w->o.max_msg) {
			snprintf(c->why, sizeof c->why, "a message of more than %zu bytes",
				 c->w->o.max_msg);
			c->wsi = NULL;	/* closed by the -1 */
			conn_dead(c);
			return -1;
		}
		if (c->len + len > c->cap) {
			size_t cap = c->cap ? c->cap : 65536;
			char *p;

			while (cap < c->len + len)
				cap *= 2;
			if (!(p = realloc(c->buf, cap))) {
				snprintf(c->why, sizeof c->why, "out of memory");
				c->wsi = NULL;
				conn_dead(c);
				return -1;
			}
			c->buf = p;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, in, len);
		c->len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			len = c->len;
			c->len = 0;
			on_message(c, c->first_ns, c->buf, len);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2)
			snprintf(c->why, sizeof c->why, "closed by the server (%u)",
				 ((unsigned char *)in)[0] << 8 | ((unsigned char *)in)[1]);
		else
			snprintf(c->why, sizeof c->why, "closed by the server");
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(c->why, sizeof c->why, "cannot connect: %s", in ? (const char *)in : "error");
		c->wsi = NULL;
		conn_dead(c);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (!c->why[0])
			snprintf(c->why, sizeof c->why, "connection closed");
		c->wsi = NULL;
		conn_dead(c);
		break;
	default:
		break;
	}
	return 0;
}

static int parse_url(struct chr_ws *w, const char *url, struct chr_err *e)
{
	char tmp[sizeof w->url];
	const char *prot, *ads, *path;

	if (strlen(url) >= sizeof tmp)
		return chr_err_set(e, CHR_EX_USAGE, "the URL is too long");
	strcpy(w->url, url);
	strcpy(tmp, url);
	if (lws_parse_uri(tmp, &prot, &ads, &w->port, &path) || !*ads ||
	    (strcmp(prot, "ws") && strcmp(prot, "wss")) || strlen(ads) >= sizeof w->host)
		return chr_err_set(e, CHR_EX_USAGE, "'%s' is not a ws:// or wss:// URL", url);
	w->ssl = strcmp(prot, "wss") == 0;
	if (!strstr(url + strlen(prot) + 3, ":"))
		w->port = w->ssl ? 443 : 80;
	strcpy(w->host, ads);
	snprintf(w->hosthdr, sizeof w->hosthdr, w->port == (w->ssl ? 443 : 80) ? "%s" : "%s:%d",
		 ads, w->port);
	snprintf(w->path, sizeof w->path, "/%s", path);
	return 0;
}

struct chr_ws *chr_ws_open(const struct chr_ws_opts *o, const struct chr_ws_cb *cb,
			   struct chr_err *e)
{
	struct lws_context_creation_info ci;
	struct chr_ws *w = calloc(1, sizeof *w);

	if (!w) {
		chr_err_sys(e, "cannot open a websocket client");
		return NULL;
	}
	w->o = *o;
	chr_ws_opts_default(&w->o);
	w->cb = *cb;
	if (!o->url || parse_url(w, o->url, e) < 0) {
		if (!o->url)
			chr_err_set(e, CHR_EX_USAGE, "no URL");
		free(w);
		return NULL;
	}
	w->o.url = w->url;
	w->lost = 1;	/* not up yet: the first UP is told too */
	w->held = calloc(HOLD_MAX, sizeof *w->held);
	w->protos[0] = (struct lws_protocols){ .name = "chr-feed", .callback = on_lws,
					       .rx_buffer_size = 65536 };
	lws_set_log_level(0, NULL);	/* the library never prints */
	memset(&ci, 0, sizeof ci);
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = w->protos;
	ci.gid = (gid_t)-1;
	ci.uid = (uid_t)-1;
	ci.options = w->ssl ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	ci.timeout_secs = (unsigned)(w->o.silence_ns / 1000000000) + 1;
	ci.client_ssl_ca_filepath = w->o.ca_file;
	ci.user = w;
	if (!w->held || !(w->ctx = lws_create_context(&ci))) {
		chr_err_set(e, CHR_EX_SYS, "cannot open a websocket client for '%s'", w->url);
		free(w->held);
		free(w);
		return NULL;
	}
	return w;
}

static void wake(lws_sorted_usec_list_t *sul)
{
	(void)sul;
}

/* what is due at now: a connection, a dead one found, a renewal */
static void due(struct chr_ws *w, int64_t now)
{
	for (int i = 0; i < 2; i++) {
		struct conn *c = &w->c[i];

		if (c->state != C_CONNECTING && c->state != C_OPEN)
			continue;
		if (now - c->last_rx < w->o.silence_ns) {
			/* a ping now and then: its pong says the connection
			 * lives when its streams are quiet */
			if (c->state == C_OPEN && c->wsi && now >= c->ping_at) {
				c->ping = 1;
				c->ping_at = now + w->o.ping_ns;
				lws_callback_on_writable(c->wsi);
			}
			continue;
		}
		snprintf(c->why, sizeof c->why, c->state == C_OPEN ? "silent for %" PRId64 " ms" :
			 "no answer for %" PRId64 " ms", (now - c->last_rx) / 1000000);
		conn_dead(c);	/* conn_free closes the wsi */
	}
	if (w->cur && w->cur->delivered && now - w->cur->start >= w->o.stable_ns)
		w->flaps = 0;
	if (!w->cur && now >= w->retry_at)
		conn_open(w, &w->cur);
	if (w->cur && w->cur->state == C_OPEN && w->cur->delivered && !w->nxt &&
	    now >= w->renew_at && w->cur->start + w->o.max_age_ns <= now) {
		w->overlap_until = now + w->o.silence_ns + w->o.overlap_ns;
		conn_open(w, &w->nxt);
	}
	if (w->nxt && now >= w->overlap_until) {
		if (w->nheld)
			switch_to_next(w, 0, 0, "no message of both connections within the overlap");
		else {
			snprintf(w->nxt->why, sizeof w->nxt->why, "the new connection delivered nothing");
			conn_dead(w->nxt);
		}
	}
}

/* after due: the end of the run, when it must end */
static int verdict(struct chr_ws *w, struct chr_err *e)
{
	if (w->o.max_attempts && w->attempts >= w->o.max_attempts)
		return chr_err_set(e, CHR_EX_SYS, "cannot connect to '%s' (%u attempts): %s",
				   w->url, w->attempts, w->lastwhy);
	return w->rc;
}

/* The kernel's receive time of the oldest bytes unread in socket fd (a
 * 1-byte MSG_PEEK with SO_TIMESTAMPNS); 0 when it has none. */
static int64_t kernel_stamp(int fd)
{
	char b, ctl[CMSG_SPACE(sizeof(struct timespec)) * 2];
	struct iovec iov = { &b, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof ctl };
	struct timespec t;

	if (recvmsg(fd, &m, MSG_PEEK | MSG_DONTWAIT) <= 0)
		return 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&t, CMSG_DATA(h), sizeof t);
			return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
		}
	return 0;
}

/* Wait up to wait_ms for the open connections' sockets to have data, and
 * give each socket found readable the kernel's receive time of its oldest
 * unread bytes before libwebsockets reads them: the frames of that read get
 * it, however long they waited in the socket or behind each other. Returns
 * 1 when it waited (libwebsockets then services without waiting), 0 when
 * libwebsockets must wait itself: a connection being made, or data it holds
 * already (a TLS record read whole, a frame read in part) that poll(2)
 * cannot see. */
static int stamp_reads(struct chr_ws *w, int wait_ms)
{
	struct pollfd p[2];
	struct conn *pc[2];
	int n = 0;

	w->c[0].rx_ns = w->c[1].rx_ns = 0;	/* no stamp is carried to a later read */
	for (int i = 0; i < 2; i++) {
		struct conn *c = &w->c[i];

		if (c->state == C_CONNECTING)
			return 0;
		if (c->state == C_OPEN && c->ping)
			return 0;	/* libwebsockets waits to write it */
		if (c->state != C_OPEN || !c->wsi)
			continue;
		pc[n] = c;
		p[n].fd = lws_get_socket_fd(c->wsi);
		p[n].events = POLLIN;
		p[n].revents = 0;
		if (p[n].fd >= 0)
			n++;
	}
	if (n == 0 || lws_service_adjust_timeout(w->ctx, 1, 0) == 0)
		return 0;
	if (poll(p, (nfds_t)n, wait_ms) < 0)
		return errno == EINTR;	/* a signal: the caller looks at it */
	for (int i = 0; i < n; i++)
		if (p[i].revents & POLLIN) {
			int64_t k = kernel_stamp(p[i].fd);

			pc[i]->rx_ns = k ? k : real_ns();
			pc[i]->last_rx = mono_ns();	/* a server ping counts too */
		}
	return 1;
}

int chr_ws_run(struct chr_ws *w, int timeout_ms, struct chr_err *e)
{
	int64_t now = mono_ns(), next = now + (int64_t)timeout_ms * 1000000;
	int n;

	due(w, now);
	if ((n = verdict(w, e)) != 0)
		return n;
	if (!w->cur && w->retry_at < next)
		next = w->retry_at;
	for (int i = 0; i < 2; i++)
		if ((w->c[i].state == C_CONNECTING || w->c[i].state == C_OPEN) &&
		    w->c[i].last_rx + w->o.silence_ns < next)
			next = w->c[i].last_rx + w->o.silence_ns;
	for (int i = 0; i < 2; i++)
		if (w->c[i].state == C_OPEN && w->c[i].ping_at < next)
			next = w->c[i].ping_at;
	if (w->cur && !w->nxt && w->renew_at > now && w->renew_at < next)
		next = w->renew_at;
	if (w->nxt && w->overlap_until < next)
		next = w->overlap_until;
	if (next > now) {
		/* poll(2) counts whole ms: a wait rounded down would wake
		 * before the deadline and spin until it */
		int ms = (int)((next - now) / 1000000 + 1);

		/* waited already: what is ready is serviced, lws' poll bounded
		 * by 1 ms (a wake-up already due would be taken before its
		 * poll, which would then wait for lws' next timer) */
		if (stamp_reads(w, ms))
			ms = 1;

		lws_sul_schedule(w->ctx, 0, &w->sul, wake, ms * (int64_t)1000);
		n = lws_service(w->ctx, 0);
		lws_sul_cancel(&w->sul);
		if (n < 0)
			return chr_err_set(e, CHR_EX_SYS, "websocket client for '%s' failed", w->url);
	}
	due(w, mono_ns());
	return verdict(w, e);
}

void chr_ws_stats(const struct chr_ws *w, struct chr_ws_stats *s)
{
	*s = w->st;
}

void chr_ws_close(struct chr_ws *w)
{
	if (!w)
		return;
	for (int i = 0; i < 2; i++)
		if (w->c[i].state != C_FREE)
			conn_free(&w->c[i]);
	lws_context_destroy(w->ctx);
	held_free(w);
	free(w->held);
	free(w->last);
	free(w);
}
