# chronicle.py - read chronicle records (docs/format.md) into numpy record
# arrays, one per record type, with exact integer mantissas and their scales;
# no build step: numpy only (zstandard for compressed segments, pandas for
# to_pandas). See docs/python.md.
"""Read chronicle record streams, queues and archive partitions with numpy.

    import chronicle
    r = chronicle.read("archive/v1/binance-futures/BTCUSDT/2024-08-08/trade")
    r["trade"]["price"], r["trade"]["price_scale"]     # exact: price / 10**scale
    df = chronicle.to_pandas(r["trade"], decimals="decimal", names=r.names)

read() takes an archive partition directory, a queue directory (read up to
its last committed record: safe while a writer appends) or a record file
(.ev, a segment file .q, or a compressed segment .q.zst), and checks every
record as the C reader does (length, version, CRC-32C, padding, payload
layout, scales, seq). A bad record raises chronicle.Error naming the file
and the byte offset.
"""

import decimal
import json
import os
import re
import struct

import numpy as np

__all__ = ["Error", "Records", "read", "read_archive", "segments", "to_pandas", "crc32c",
           "NULL", "KEYS"]

NULL = -(1 << 63)            # CHR_NULL: the mantissa of an absent value
REC_MAX = 16 << 20           # a record's len is at most 16 MiB
SEG_MAGIC = 0x51524843       # "CHRQ"
SEALED = 1
SPARE = (1 << 64) - 1        # base_seq of a queue's spare segment
ZSTD_MAGIC = 0xFD2FB528

DEFINE, GAP, HEARTBEAT = 0x0001, 0x0002, 0x0003
BOOK_SNAPSHOT, BOOK_DIFF, BOOK_TOPN = 0x0010, 0x0011, 0x0012
TRADE, QUOTE = 0x0020, 0x0021

# the keys of read()'s result, in this order: one array per key
KEYS = ("define", "gap", "heartbeat", "book", "topn", "trade", "quote", "other")
KEY_OF = {DEFINE: "define", GAP: "gap", HEARTBEAT: "heartbeat",
          BOOK_SNAPSHOT: "book", BOOK_DIFF: "book", BOOK_TOPN: "topn",
          TRADE: "trade", QUOTE: "quote"}
# what read(type=...) accepts: the keys, and chr-tail's names of book types
TYPE_NAMES = {"define": {DEFINE}, "gap": {GAP}, "heartbeat": {HEARTBEAT},
              "book": {BOOK_SNAPSHOT, BOOK_DIFF}, "snapshot": {BOOK_SNAPSHOT},
              "diff": {BOOK_DIFF}, "topn": {BOOK_TOPN}, "trade": {TRADE},
              "quote": {QUOTE}, "other": None}


class Error(Exception):
    """Bad data (or a file that cannot be read): .path and .offset (byte
    offset in the file or stream, None when the fault is not at a byte)."""

    def __init__(self, path, offset, what):
        self.path, self.offset, self.what = path, offset, what
        if offset is None:
            super().__init__("%s: %s" % (path, what))
        else:
            super().__init__("%s: byte %d: %s" % (path, offset, what))


def _dtype(fields, itemsize):
    return np.dtype({"names": [f[0] for f in fields], "formats": [f[1] for f in fields],
                     "offsets": [f[2] for f in fields], "itemsize": itemsize})


# the 64-byte record header; reserved bytes are left out of the views
HEADER = [("len", "<u4", 0), ("type", "<u2", 4), ("flags", "<u2", 6), ("seq", "<u8", 8),
          ("ts", "<i8", 16), ("ts_event", "<i8", 24), ("src_seq", "<u8", 32),
          ("market", "<u4", 40), ("venue", "<u2", 44), ("version", "u1", 46),
          ("crc", "<u4", 60)]
# views of fixed-size records, whole spans (header, payload, padding)
VIEW = {
    DEFINE: _dtype(HEADER + [("venue_name", "S32", 64), ("symbol", "S64", 96),
                             ("price_scale_hint", "i1", 160), ("size_scale_hint", "i1", 161)],
                   192),
    GAP: _dtype(HEADER + [("expected", "<u8", 64), ("got", "<u8", 72),
                          ("reason", "<u4", 80)], 128),
    HEARTBEAT: _dtype(HEADER, 64),
    TRADE: _dtype(HEADER + [("price", "<i8", 64), ("size", "<i8", 72),
                            ("price_scale", "i1", 80), ("size_scale", "i1", 81),
                            ("side", "u1", 82), ("id", "S40", 88)], 128),
    QUOTE: _dtype(HEADER + [("bid_px", "<i8", 64), ("bid_sz", "<i8", 72),
                            ("ask_px", "<i8", 80), ("ask_sz", "<i8", 88),
                            ("price_scale", "i1", 96), ("size_scale", "i1", 97)], 128),
}
PAYLOAD_LEN = {DEFINE: 104, GAP: 24, HEARTBEAT: 0, TRADE: 64, QUOTE: 40}
# header and L2 book body fields (the body's 40 bytes after the header)
BOOK_HEAD = _dtype(HEADER + [("update_id_first", "<u8", 64), ("update_id_last", "<u8", 72),
                             ("update_id_prev", "<u8", 80), ("n_bid", "<u4", 88),
                             ("n_ask", "<u4", 92), ("price_scale", "i1", 96),
                             ("size_scale", "i1", 97)], 128)
# book records, one row per level (the Tardis incremental_book_L2 layout)
COMMON = ["type", "flags", "seq", "ts", "ts_event", "src_seq", "market", "venue"]
BOOK = np.dtype([(n, VIEW[HEARTBEAT].fields[n][0]) for n in COMMON] +
                [("update_id_first", "<u8"), ("update_id_last", "<u8"),
                 ("update_id_prev", "<u8"), ("is_snapshot", "?"), ("side", "u1"),
                 ("level", "<u4"), ("price", "<i8"), ("size", "<i8"),
                 ("price_scale", "i1"), ("size_scale", "i1")])
OTHER = np.dtype([(n, VIEW[HEARTBEAT].fields[n][0]) for n in ["len"] + COMMON])

# which mantissa goes with which scale (to_pandas)
SCALE_OF = {"price": "price_scale", "size": "size_scale", "bid_px": "price_scale",
            "ask_px": "price_scale", "bid_sz": "size_scale", "ask_sz": "size_scale",
            "bid_price": "price_scale", "ask_price": "price_scale",
            "bid_size": "size_scale", "ask_size": "size_scale"}


def _topn_dtype(n):
    return np.dtype([(f, VIEW[HEARTBEAT].fields[f][0]) for f in COMMON] +
                    [("update_id_first", "<u8"), ("update_id_last", "<u8"),
                     ("update_id_prev", "<u8"), ("price_scale", "i1"), ("size_scale", "i1"),
                     ("n", "<u4"), ("bid_price", "<i8", (n,)), ("bid_size", "<i8", (n,)),
                     ("ask_price", "<i8", (n,)), ("ask_size", "<i8", (n,))])


# ---- CRC-32C (Castagnoli, reflected 0x82F63B78, pre- and post-inversion)

def _crc_table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    return t


CRC_TABLE = _crc_table()
_TAB = [int(x) for x in CRC_TABLE]


def crc32c(data, crc=0):
    """CRC-32C of the bytes data, continuing crc (as chr_crc32c)."""
    c = crc ^ 0xFFFFFFFF
    tab = _TAB
    for b in bytes(data):
        c = tab[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


CHUNK = 256


def _shift_tables():
    """SHIFT[k][b]: the register after CHUNK zero bytes from b << 8k; the
    shift of any register is the XOR of its four bytes' entries."""
    r = (np.arange(256, dtype=np.uint32)[None, :] <<
         (8 * np.arange(4, dtype=np.uint32))[:, None]).astype(np.uint32)
    for _ in range(CHUNK):
        r = CRC_TABLE[r & 0xFF] ^ (r >> 8)
    return r


SHIFT = _shift_tables()


def _crc_rows(m):
    """The CRC register, from 0 and without inversion, of each row of the
    uint8 matrix m: vectorised over rows, a step per column. Rows longer
    than CHUNK (a multiple of it) are cut into chunks computed as rows of
    their own, then joined: crc(A B) = shift(crc(A), len(B)) ^ crc(B)."""
    n, w = m.shape
    if w > CHUNK:
        k = w // CHUNK
        part = _crc_rows(m.reshape(n * k, CHUNK)).reshape(n, k)
        c = part[:, 0].copy()
        for j in range(1, k):
            c = (SHIFT[0][c & 0xFF] ^ SHIFT[1][(c >> 8) & 0xFF] ^
                 SHIFT[2][(c >> 16) & 0xFF] ^ SHIFT[3][c >> 24] ^ part[:, j])
        return c
    c = np.zeros(n, dtype=np.uint32)
    t = np.empty_like(c)
    for j in range(w):
        np.bitwise_xor(c, m[:, j], out=t)
        np.bitwise_and(t, 0xFF, out=t)
        np.right_shift(c, 8, out=c)
        np.bitwise_xor(c, CRC_TABLE[t], out=c)
    return c


def _zero_shift(lengths):
    """{n: the register after n zero bytes from 0xFFFFFFFF} for each n."""
    out, c, tab, want = {}, 0xFFFFFFFF, _TAB, sorted(set(lengths))
    done = 0
    for n in want:
        for _ in range(n - done):
            c = tab[c & 0xFF] ^ (c >> 8)
        done = n
        out[n] = c
    return out


def _record_crcs(blocks, offs, lens):
    """CRC-32C of header bytes 4..59 and the payload of the records at offs
    (lens their lengths): records grouped by length bucket, each bucket's
    rows right-aligned in a zero matrix (leading zeros leave a register of
    0 unchanged; the initial 0xFFFFFFFF is added back by linearity)."""
    out = np.empty(len(offs), dtype=np.uint32)
    if len(offs) == 0:
        return out
    cover = lens.astype(np.int64) - 8
    zs = _zero_shift(cover.tolist())
    bucket = np.ceil(np.log2(np.maximum(cover, 1))).astype(np.int64)
    for b in np.unique(bucket):
        sel = np.nonzero(bucket == b)[0]
        width = int(cover[sel].max())
        if width > CHUNK:                   # whole chunks: leading zeros change nothing
            width = -(-width // CHUNK) * CHUNK
        m = np.zeros((len(sel), width), dtype=np.uint8)
        for ln in np.unique(lens[sel]):
            ln = int(ln)
            rows = sel[lens[sel] == ln]
            recs = _gather(blocks, offs[rows], ln)
            at = np.searchsorted(sel, rows)
            m[at, width - (ln - 8):width - (ln - 64)] = recs[:, 4:60]
            m[at, width - (ln - 64):] = recs[:, 64:ln]
        raw = _crc_rows(m)
        z = np.array([zs[int(x)] for x in cover[sel]], dtype=np.uint32)
        out[sel] = ~(raw ^ z)
    return out


def _gather(blocks, offs, ln):
    """The first ln bytes of the records at offs: an (n, span) uint8 copy,
    gathered 64-byte block by block."""
    k = (ln + 63) // 64
    idx = offs // 64
    m = np.empty((len(offs), k), dtype="V64")
    for j in range(k):
        m[:, j] = blocks[idx + j]
    return m.view(np.uint8).reshape(len(offs), 64 * k)


# ---- sources: a byte buffer of records, where it came from, its offsets

class _Buf:
    """Bytes to read records from: a numpy uint8 array (a file's map, or a
    decompressed segment), the name used in errors."""

    def __init__(self, name, data):
        self.name = name
        self.u8 = data
        self.n = len(data)
        # plain views (a memmap's indexing is slow): the len words (at
        # multiples of 64) and the 64-byte blocks records are gathered by
        plain = data.view(np.ndarray)
        self.words = plain[:self.n // 4 * 4].view("<u4")
        self.blocks = plain[:self.n // 64 * 64].view("V64")

    def u32(self, off):
        return int(self.words[off >> 2])


def _map(path):
    try:
        if os.path.getsize(path) == 0:
            return np.zeros(0, dtype=np.uint8)
        return np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as e:
        raise Error(path, None, e.strerror or str(e)) from None


def _not_records(u8):
    """What the first bytes of a stream that is not one of records are,
    when they say (text, gzip; as chr_reader says it), else None."""
    b = bytes(u8[:64])
    if b[:3] == b"\x1f\x8b\x08":
        return ("this looks like gzip data, not chronicle records (a Tardis .csv.gz "
                "converts with chr-csv2ev; gzip'ed records decompress with gzip -d)")
    # text starts with ASCII or a UTF-8 byte order mark; 4 bytes at least,
    # as a record's fourth is 0 or 1
    if len(b) < 4 or ((b[0] < 0x20 or b[0] >= 0x7F) and b[0] not in b"\t\n\r"
                      and not b.startswith(b"\xef\xbb\xbf")):
        return None
    if any((c < 0x20 and c not in b"\t\n\r") or c == 0x7F for c in b):
        return None
    if b"," in b:
        return "this looks like CSV text, not chronicle records; convert it with chr-csv2ev"
    return "this looks like text, not chronicle records"


def _seg_header(buf, off):
    """The segment header at off as a dict; checks magic, version, CRC when
    sealed."""
    (magic, version, flags, sid, base, end, count, ts_min, ts_max, _r, crc) = \
        struct.unpack_from("<IHHQQQQqqII", bytes(buf.u8[off:off + 64]))
    if magic != SEG_MAGIC:
        raise Error(buf.name, off, "not a segment header (bad magic)")
    if version != 1:
        raise Error(buf.name, off, "unknown segment version %d" % version)
    if flags & SEALED and crc32c(bytes(buf.u8[off:off + 60])) != crc:
        raise Error(buf.name, off, "bad segment header crc")
    return dict(flags=flags, id=sid, base_seq=base, end=end, count=count,
                ts_min=ts_min, ts_max=ts_max)


def _walk(buf, pos, stop, live=False, headers=False):
    """Offsets and lengths of the records from pos up to stop. live: a
    queue segment (a len of 0 ends the walk: nothing committed there yet;
    each len is read before its record). headers: a stream that may hold
    segment headers between records (skipped, after checking). Returns
    (offsets, lens, where the walk ended)."""
    offs, lens = [], []
    while pos < stop:
        if stop - pos < 64:
            if live:
                break
            raise Error(buf.name, pos, "truncated record header")
        ln = buf.u32(pos)
        if ln == SEG_MAGIC and headers:
            _seg_header(buf, pos)
            pos += 64
            continue
        if ln == 0:
            if live:
                break
            raise Error(buf.name, pos, "unwritten space (record length 0)")
        if ln < 64:
            raise Error(buf.name, pos, "record length below 64")
        if ln > REC_MAX:
            raise Error(buf.name, pos, "record length above 16 MiB")
        span = (ln + 63) & ~63
        if pos + span > stop:
            if live:
                raise Error(buf.name, pos, "record runs past the end of the segment")
            raise Error(buf.name, pos, "truncated record")
        # the run of records of this same length that follows, checked in
        # windows that double while the length holds
        top, k, w = (stop - pos) // span, 1, 16
        while k < top:
            m = min(w, top - k)
            at = pos + k * span
            differ = np.nonzero(buf.words[at >> 2:(at + m * span) >> 2:span >> 2] != ln)[0]
            if len(differ):
                k += int(differ[0])
                break
            k, w = k + m, 2 * w
        offs.append(np.arange(pos, pos + k * span, span, dtype=np.int64))
        lens.append(np.full(k, ln, dtype=np.int64))
        pos += k * span
    if not offs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), pos
    return np.concatenate(offs), np.concatenate(lens), pos


def _check(buf, offs, lens, base_seq=None):
    """The record checks of docs/format.md over the records at offs: version,
    CRC, zero padding, payload layout and scales; with base_seq, seq runs
    base_seq, base_seq + 1, ... Raises Error at the first bad record."""
    if len(offs) == 0:
        return
    blocks = buf.blocks
    head = _gather(blocks, offs, 64).view(VIEW[HEARTBEAT]).reshape(-1)
    bad = np.zeros(len(offs), dtype=bool)
    why = np.empty(len(offs), dtype=object)

    def fail(mask, what):
        new = mask & ~bad
        why[new] = what
        bad[:] |= mask

    fail(head["version"] != 1, "unknown record version")
    fail(_record_crcs(blocks, offs, lens) != head["crc"], "bad crc")
    # padding: the bytes from len to the span, and the reserved header bytes
    rem = lens % 64
    pad = np.nonzero(rem)[0]
    if len(pad):
        last = (offs[pad] + lens[pad] - rem[pad])
        tail = _gather(blocks, last, 64)
        cols = np.arange(64)
        fail_pad = np.zeros(len(offs), dtype=bool)
        fail_pad[pad] = ((tail != 0) & (cols[None, :] >= rem[pad][:, None])).any(axis=1)
        fail(fail_pad, "nonzero padding")
    types = head["type"]
    plen = lens - 64
    for t, want in PAYLOAD_LEN.items():
        fail((types == t) & (plen != want),
             "%s payload has the wrong size" % _TNAME[t] if t != HEARTBEAT
             else "HEARTBEAT carries a payload")
    scales = {TRADE: (80, 81), QUOTE: (96, 97)}
    for t, (ps, ss) in scales.items():
        sel = np.nonzero((types == t) & ~bad)[0]
        if len(sel):
            v = _gather(blocks, offs[sel], 128)
            badscale = np.zeros(len(offs), dtype=bool)
            badscale[sel] = ((v[:, ps].view(np.int8) > 18) | (v[:, ps].view(np.int8) < 0) |
                             (v[:, ss].view(np.int8) > 18) | (v[:, ss].view(np.int8) < 0))
            fail(badscale, "%s scale outside 0..18" % _TNAME[t])
    book = np.nonzero(((types == BOOK_SNAPSHOT) | (types == BOOK_DIFF) |
                       (types == BOOK_TOPN)) & ~bad)[0]
    if len(book):
        small = book[plen[book] < 40]
        m = np.zeros(len(offs), dtype=bool)
        m[small] = True
        fail(m, "book level counts do not match the payload size")
        book = book[plen[book] >= 40]
        if len(book):
            b = _gather(blocks, offs[book], 128).view(BOOK_HEAD).reshape(-1)
            nlev = b["n_bid"].astype(np.int64) + b["n_ask"]
            m = np.zeros(len(offs), dtype=bool)
            m[book] = ((plen[book] - 40) % 16 != 0) | (nlev != (plen[book] - 40) // 16)
            fail(m, "book level counts do not match the payload size")
            m = np.zeros(len(offs), dtype=bool)
            m[book] = ((b["price_scale"] < 0) | (b["price_scale"] > 18) |
                       (b["size_scale"] < 0) | (b["size_scale"] > 18))
            fail(m, "book scale outside 0..18")
    if base_seq is not None:
        want = np.arange(len(offs), dtype=np.uint64) + np.uint64(base_seq)
        bad_seq = head["seq"] != want
        for i in np.nonzero(bad_seq & ~bad)[0][:1]:
            why[i] = "seq %d, expected %d" % (head["seq"][i], want[i])
        bad |= bad_seq
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise Error(buf.name, int(offs[i]), why[i])


_TNAME = {DEFINE: "DEFINE", GAP: "GAP", HEARTBEAT: "HEARTBEAT", BOOK_SNAPSHOT: "BOOK_SNAPSHOT",
          BOOK_DIFF: "BOOK_DIFF", BOOK_TOPN: "BOOK_TOPN", TRADE: "TRADE", QUOTE: "QUOTE"}


def _split(buf, offs, lens):
    """The records at offs as a Records of arrays, one per key: views into
    buf (zero-copy) where a type's records follow each other, copies
    otherwise; book records expanded to one row per level."""
    out = Records()
    if len(offs) == 0:
        return out
    blocks = buf.blocks
    types = np.asarray(_gather(blocks, offs, 64).view(VIEW[HEARTBEAT]).reshape(-1)["type"])
    for t, dt in VIEW.items():
        sel = offs[types == t]
        if len(sel) == 0:
            continue
        if len(sel) == 1 or (np.diff(sel) == dt.itemsize).all():
            arr = np.ndarray(len(sel), dtype=dt, buffer=buf.u8, offset=int(sel[0]))
        else:
            arr = _gather(blocks, sel, dt.itemsize).view(dt).reshape(-1)
        out[KEY_OF[t]] = arr
    book = (types == BOOK_SNAPSHOT) | (types == BOOK_DIFF)
    if book.any():
        out["book"] = _book_levels(blocks, offs[book], lens[book])
    if (types == BOOK_TOPN).any():
        out["topn"] = _topn(blocks, offs[types == BOOK_TOPN], lens[types == BOOK_TOPN])
    other = ~np.isin(types, list(KEY_OF))
    if other.any():
        h = _gather(blocks, offs[other], 64).view(VIEW[HEARTBEAT]).reshape(-1)
        o = np.empty(len(h), dtype=OTHER)
        for f in OTHER.names:
            o[f] = h[f]
        out["other"] = o
    return out


def _book_levels(blocks, offs, lens):
    """BOOK_SNAPSHOT and BOOK_DIFF records as one row per level, bids then
    asks, in record order; a record without levels (an empty book) as one
    row of side 0 and null price and size."""
    h = _gather(blocks, offs, 128).view(BOOK_HEAD).reshape(-1)
    nb = h["n_bid"].astype(np.int64)
    na = h["n_ask"].astype(np.int64)
    rows = np.maximum(nb + na, 1)
    rec = np.repeat(np.arange(len(offs)), rows)
    first = np.cumsum(rows) - rows
    k = np.arange(len(rec)) - first[rec]          # level index in the record
    empty = (nb + na == 0)[rec]
    out = np.zeros(len(rec), dtype=BOOK)
    for f in COMMON + ["update_id_first", "update_id_last", "update_id_prev",
                       "price_scale", "size_scale"]:
        out[f] = h[f][rec]
    out["is_snapshot"] = h["type"][rec] == BOOK_SNAPSHOT
    bid = k < nb[rec]
    out["side"] = np.where(empty, 0, np.where(bid, 1, 2))
    out["level"] = np.where(bid | empty, k, k - nb[rec])
    at = (offs[rec] + 104 + 16 * k) // 8         # the level's price, in 8-byte words
    words = blocks.view("<i8")
    live = ~empty
    out["price"] = np.where(live, words[np.where(live, at, 0)], NULL)
    out["size"] = np.where(live, words[np.where(live, at + 1, 0)], NULL)
    return out


def _topn(blocks, offs, lens):
    """BOOK_TOPN records, one row each, with N-wide arrays of levels (best
    first; N the largest of the records, narrower ones padded with null)."""
    h = _gather(blocks, offs, 128).view(BOOK_HEAD).reshape(-1)
    n = int(max(h["n_bid"].max(), h["n_ask"].max()))
    out = np.zeros(len(offs), dtype=_topn_dtype(n))
    for f in COMMON + ["update_id_first", "update_id_last", "update_id_prev",
                       "price_scale", "size_scale"]:
        out[f] = h[f]
    out["n"] = h["n_bid"]
    for f in ("bid_price", "bid_size", "ask_price", "ask_size"):
        out[f] = NULL
    u8 = blocks.view(np.uint8)
    for i, off in enumerate(offs.tolist()):
        b, a = int(h["n_bid"][i]), int(h["n_ask"][i])
        lv = u8[off + 104:off + 104 + 16 * (b + a)].view("<i8").reshape(-1, 2)
        out["bid_price"][i, :b], out["bid_size"][i, :b] = lv[:b, 0], lv[:b, 1]
        out["ask_price"][i, :a], out["ask_size"][i, :a] = lv[b:, 0], lv[b:, 1]
    return out


# ---- results

class Records(dict):
    """read()'s result: {key: structured array} for the keys in KEYS that
    the data holds, and .names: {(venue id, market id): (venue, symbol)}
    from its DEFINE records."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.names = {}

    def to_pandas(self, key, decimals="decimal"):
        """to_pandas(self[key], decimals, self.names)."""
        return to_pandas(self[key], decimals=decimals, names=self.names)


def _names_of(defines, names):
    for d in defines:
        names[(int(d["venue"]), int(d["market"]))] = (
            bytes(d["venue_name"]).split(b"\0")[0].decode(),
            bytes(d["symbol"]).split(b"\0")[0].decode())


def _merge(parts):
    out = Records()
    for p in parts:
        out.names.update(p.names)
    keys = [k for k in KEYS if any(k in p for p in parts)]
    for k in keys:
        arrs = [p[k] for p in parts if k in p]
        if k == "topn" and len({a.dtype for a in arrs}) > 1:
            n = max(a.dtype["bid_price"].shape[0] for a in arrs)
            arrs = [_widen(a, n) for a in arrs]
        out[k] = arrs[0] if len(arrs) == 1 else np.concatenate(arrs)
    return out


def _widen(a, n):
    w = np.zeros(len(a), dtype=_topn_dtype(n))
    for f in a.dtype.names:
        if a.dtype[f].shape:
            w[f] = NULL
            w[f][:, :a.dtype[f].shape[0]] = a[f]
        else:
            w[f] = a[f]
    return w


# ---- segments, compressed segments, partitions, queues

SEG_NAME = re.compile(r"^([0-9]{9})\.q(\.zst)?$")


def _segment_file(path):
    """A sealed segment file (.q, or .q.zst through its seek table) as a
    _Buf of exactly its `end` bytes, and its header."""
    u8 = _map(path)
    if len(u8) >= 4 and int(u8[:4].view("<u4")[0]) == ZSTD_MAGIC:
        u8 = _decompress(path, u8)
    buf = _Buf(path, u8)
    if buf.n < 64:
        raise Error(path, 0, "truncated segment header")
    h = _seg_header(buf, 0)
    if not h["flags"] & SEALED:
        raise Error(path, 0, "segment is not sealed")
    if h["end"] != buf.n:
        raise Error(path, 0, "segment header's end %d is not the file's %d bytes"
                    % (h["end"], buf.n))
    return buf, h


def _decompress(path, u8):
    """The segment of a compressed segment file (docs/format.md, "Compressed
    segments"): the tables checked, each data frame decompressed."""
    try:
        import zstandard
    except ImportError:
        raise Error(path, None, "a compressed segment: reading it needs the Python "
                    "module zstandard (Debian: python3-zstandard)") from None
    size = len(u8)
    if size < 9:
        raise Error(path, 0, "too short for a seek table")
    nfr, desc, magic = struct.unpack_from("<IBI", bytes(u8[size - 9:]))
    if magic != 0x8F92EAB1:
        raise Error(path, size - 4, "no seekable format magic: not a chronicle compressed segment")
    if desc & 0x7C or desc & 0x80:
        raise Error(path, size - 5, "seek table descriptor has reserved bits or checksums")
    tsize = 8 * nfr + 9
    tab_at = size - tsize - 8
    if nfr < 2 or tab_at < 0:
        raise Error(path, size - 9, "bad seek table frame count %d" % nfr)
    sm, fs = struct.unpack_from("<II", bytes(u8[tab_at:tab_at + 8]))
    if sm != 0x184D2A5E or fs != tsize:
        raise Error(path, tab_at, "bad seek table frame header")
    ent = np.frombuffer(bytes(u8[tab_at + 8:tab_at + 8 + 8 * nfr]), dtype="<u4").reshape(-1, 2)
    csize = ent[:, 0].astype(np.int64)
    if int(csize.sum()) != tab_at:
        raise Error(path, tab_at, "seek table sizes do not add up to its offset")
    n = nfr - 1
    cf = int(csize[:-1].sum())
    cm, cfs, tag, ver, esz, cn, ccrc = struct.unpack_from("<IIIHHII", bytes(u8[cf:cf + 24]))
    if (cm != 0x184D2A5C or cfs != 80 + 24 * n or csize[-1] != 8 + cfs or tag != 0x5A524843
            or ver != 1 or esz != 24 or cn != n or ent[-1, 1] != 0):
        raise Error(path, cf, "bad chronicle frame")
    if crc32c(bytes(u8[cf + 24:cf + 8 + cfs])) != ccrc:
        raise Error(path, cf + 20, "chronicle frame crc mismatch")
    hcopy = bytes(u8[cf + 24:cf + 88])
    dec = zstandard.ZstdDecompressor()
    out = np.empty(int(ent[:-1, 1].astype(np.int64).sum()), dtype=np.uint8)
    at, pos = 0, 0
    for i in range(n):
        c, d = int(csize[i]), int(ent[i, 1])
        if d == 0 or d % 64:
            raise Error(path, pos, "data frame %d is not a positive multiple of 64 bytes" % i)
        try:
            data = dec.decompress(bytes(u8[pos:pos + c]), max_output_size=d)
        except zstandard.ZstdError as e:
            raise Error(path, pos, "data frame %d: %s" % (i, e)) from None
        if len(data) != d:
            raise Error(path, pos, "data frame %d decompresses to %d bytes, not %d"
                        % (i, len(data), d))
        out[at:at + d] = np.frombuffer(data, dtype=np.uint8)
        at += d
        pos += c
    if bytes(out[:64]) != hcopy:
        raise Error(path, 0, "frame 0 does not begin with the header copy")
    return out


def _read_segment(path):
    buf, h = _segment_file(path)
    offs, lens, _ = _walk(buf, 64, buf.n)
    if len(offs) != h["count"]:
        raise Error(path, 0, "segment header counts %d records, the segment holds %d"
                    % (h["count"], len(offs)))
    _check(buf, offs, lens, h["base_seq"])
    return _split(buf, offs, lens), h


def _segments_in(path):
    names = []
    for f in sorted(os.listdir(path)):
        m = SEG_NAME.match(f)
        if m:
            names.append((int(m.group(1)), f))
    ids = [i for i, _ in names]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise Error(path, None, "holds both %09d.q and %09d.q.zst" % (min(dup), min(dup)))
    return names


def _partition(path):
    """Per segment of an archive partition: (file, Records)."""
    try:
        meta = json.load(open(os.path.join(path, "meta.json")))
    except (OSError, ValueError) as e:
        raise Error(os.path.join(path, "meta.json"), None, str(e)) from None
    segs = _segments_in(path)
    have = {f for _, f in segs}
    for s in meta.get("segments", []):
        if s["file"] not in have:
            raise Error(path, None, "segment '%s' is listed in meta.json but missing"
                        % s["file"])
    nxt = None
    for _, f in segs:
        p = os.path.join(path, f)
        if os.path.isdir(p):
            raise Error(p, None, "is a directory, not a segment")
        recs, h = _read_segment(p)
        if nxt is not None and h["base_seq"] != nxt:
            raise Error(p, 16, "base_seq %d, expected %d" % (h["base_seq"], nxt))
        nxt = h["base_seq"] + h["count"]
        yield p, recs


def _queue(path):
    """Per segment of a live queue: (file, Records) of its committed records,
    up to the first unwritten one."""
    segs = [(i, f) for i, f in _segments_in(path) if not f.endswith(".zst")]
    expect = None
    for k, (sid, f) in enumerate(segs):
        p = os.path.join(path, f)
        buf = _Buf(p, _map(p))
        if buf.n < 64 or buf.n % 64:
            raise Error(p, 0, "segment size %d is not a multiple of 64" % buf.n)
        h = _seg_header(buf, 0)
        if h["id"] != sid:
            raise Error(p, 8, "segment id %d is not its name's" % h["id"])
        if h["base_seq"] == SPARE:
            break                                   # the spare: not in the queue yet
        if expect is not None and h["base_seq"] != expect:
            raise Error(p, 16, "base_seq %d, expected %d" % (h["base_seq"], expect))
        sealed = bool(h["flags"] & SEALED)
        stop = h["end"] if sealed else buf.n
        offs, lens, pos = _walk(buf, 64, stop, live=True)
        while not sealed:
            # nothing committed at pos: the end, unless the segment was
            # sealed since its header was read (then read on to its end);
            # a later segment that shows it should be sealed is damage
            h2 = _seg_header(buf, 0)
            if not h2["flags"] & SEALED:
                if k + 1 >= len(segs) or not _follows(path, segs[k + 1]):
                    break
                h2 = _seg_header(buf, 0)
                if not h2["flags"] & SEALED:
                    raise Error(p, None, "not sealed, but %s follows it" % segs[k + 1][1])
            h, sealed = h2, True
            o2, l2, pos = _walk(buf, pos, h["end"], live=True)
            offs, lens = np.concatenate([offs, o2]), np.concatenate([lens, l2])
        if sealed and (pos != h["end"] or len(offs) != h["count"]):
            raise Error(p, pos, "unwritten space before the end of a sealed segment")
        _check(buf, offs, lens, h["base_seq"])
        yield p, _split(buf, offs, lens)
        if not sealed:
            break
        expect = h["base_seq"] + h["count"]


def _follows(qdir, nxt):
    """Whether the segment nxt (id + 1) shows that segment id should be
    sealed: it has a base_seq and is sealed or holds a committed record (a
    roll seals before it appends to the next segment)."""
    q = os.path.join(qdir, nxt[1])
    try:
        u8 = _map(q)
    except Error:
        return False
    if len(u8) < 128:
        return False
    h = _seg_header(_Buf(q, u8), 0)
    return h["base_seq"] != SPARE and bool(h["flags"] & SEALED or
                                           int(u8[64:68].view("<u4")[0]))


def _stream(path):
    """A record file (a stream, maybe with segment headers between records)."""
    u8 = _map(path)
    if len(u8) >= 4 and int(u8[:4].view("<u4")[0]) == ZSTD_MAGIC:
        recs, _ = _read_segment(path)
        yield path, recs
        return
    buf = _Buf(path, u8)
    try:
        offs, lens, _ = _walk(buf, 0, buf.n, headers=True)
        _check(buf, offs, lens)
    except Error as e:
        # a stream that fails at its first byte may be no record stream
        if e.offset == 0 and _not_records(u8):
            raise Error(path, None, _not_records(u8)) from None
        raise
    yield path, _split(buf, offs, lens)


def segments(path):
    """Yield (file, Records) per segment of path (per file for a record
    file): the arrays of plain segments are views of the mapped file where
    their records follow each other (no copy); .names holds the names
    defined up to and in that segment."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "meta.json")):
            gen = _partition(path)
        elif _segments_in(path) or os.path.exists(os.path.join(path, "control")):
            gen = _queue(path)
        else:
            raise Error(path, None, "neither an archive partition (meta.json) nor a queue")
    elif os.path.exists(path) or os.path.islink(path):
        gen = _stream(path)
    else:
        raise Error(path, None, "No such file or directory")
    names = {}
    for f, recs in gen:
        if "define" in recs:
            _names_of(recs["define"], names)
        recs.names = dict(names)    # the names defined so far
        yield f, recs


def read(path, type=None, venue=None, symbol=None):
    """Records of path (an archive partition directory, a queue directory,
    or a record file: .ev, .q, .q.zst) as a Records {key: array}, keys of
    KEYS. type: a name or list of names (define, gap, heartbeat, book,
    snapshot, diff, topn, trade, quote, other) to keep; venue, symbol:
    names to keep (from the DEFINE records). Raises Error on bad data."""
    parts = []
    for _, recs in segments(path):
        parts.append(recs)
    out = _merge(parts)
    if type is not None:
        want = [type] if isinstance(type, str) else list(type)
        keys, book = set(), set()
        for w in want:
            if w not in TYPE_NAMES:
                raise ValueError("unknown record type '%s' (one of %s)"
                                 % (w, ", ".join(TYPE_NAMES)))
            if w in ("book", "snapshot", "diff"):
                keys.add("book")
                book |= TYPE_NAMES[w]
            else:
                keys.add(w)
        for k in list(out):
            if k not in keys:
                del out[k]
        if "book" in out and book != {BOOK_SNAPSHOT, BOOK_DIFF}:
            out["book"] = out["book"][np.isin(out["book"]["type"], list(book))]
    if venue is not None or symbol is not None:
        ids = [vm for vm, (v, s) in out.names.items()
               if (venue is None or v == venue) and (symbol is None or s == symbol)]
        for k, arr in out.items():
            m = np.zeros(len(arr), dtype=bool)
            for v, mk in ids:
                m |= (arr["venue"] == v) & (arr["market"] == mk)
            out[k] = arr[m]
    return out


# streams of the archive that hold each type name of read(type=...)
STREAM_OF = {"trade": {"trade"}, "quote": {"quote"}, "book": {"book"}, "snapshot": {"book"},
             "diff": {"book"}, "gap": {"book"}, "topn": {"topn"},
             "define": {"book", "trade", "quote", "topn"}, "heartbeat": set(), "other": set()}


def read_archive(root, venue, symbol=None, type=None, date=None, ls="chr-ls"):
    """Records of the archive ROOT, in every tier: the partitions that
    chronicle's chr-ls (on PATH, or the program ls) lists for venue and
    symbol (names or globs, as chr-ls takes them), only those of date
    (YYYY-MM-DD) when given, and of the streams that hold type; each read
    as read(partition, type) does, then joined, each array in ts order
    (stable: the order of the records of one ts is kept). Raises Error with
    chr-ls's message when it finds no such venue or symbol."""
    import subprocess
    cmd = [ls, "--format", "json", "--venue", venue]
    if symbol is not None:
        cmd += ["--symbol", symbol]
    try:
        run = subprocess.run(cmd + [root], capture_output=True, text=True)
    except OSError as e:
        raise Error(root, None, "cannot run %s: %s" % (ls, e.strerror)) from None
    if run.returncode != 0:
        msg = (run.stderr.strip().splitlines() or ["%s failed" % ls])[0]
        err = Error(root, None, msg)
        err.args = (msg,)
        raise err
    want = None
    if type is not None:
        names = [type] if isinstance(type, str) else list(type)
        for w in names:
            if w not in TYPE_NAMES:
                raise ValueError("unknown record type '%s' (one of %s)"
                                 % (w, ", ".join(TYPE_NAMES)))
        want = set().union(*[STREAM_OF[w] for w in names])
    parts = []
    for line in run.stdout.splitlines():
        p = json.loads(line)
        if p["stream"] == "raw" or (date is not None and p["date"] != date):
            continue
        if want is None or p["stream"] in want:
            parts.append(read(p["path"], type=type))
    out = _merge(parts)
    if len(parts) > 1:
        for k, arr in out.items():
            out[k] = arr[np.argsort(arr["ts"], kind="stable")]
    return out


# ---- pandas

def _decimals(mant, scale, how):
    if how == "float":
        # exact operands (|mantissa| < 2**53, 10**scale for scale <= 22): the
        # quotient is the double nearest the decimal; larger ones via Decimal
        v = mant.astype(np.float64) / np.power(10.0, scale.astype(np.float64))
        big = np.nonzero((np.abs(mant) >= 1 << 53) & (mant != NULL))[0]
        for i in big.tolist():
            v[i] = float(decimal.Decimal(int(mant[i])).scaleb(-int(scale[i])))
        v[mant == NULL] = np.nan
        return v
    if how != "decimal":
        raise ValueError("decimals must be 'decimal' or 'float', not %r" % (how,))
    D = decimal.Decimal
    return np.array([None if m == NULL else D(m).scaleb(-s)
                     for m, s in zip(mant.tolist(), scale.tolist())], dtype=object)


def to_pandas(arr, decimals="decimal", names=None):
    """A pandas DataFrame of an array of read(): each mantissa with its scale
    as decimal.Decimal (decimals="decimal", exact) or float ("float"), null
    (CHR_NULL) as None or NaN; ts as UTC datetimes, ts_event too (0: NaT);
    text fields as str; with names (Records.names), exchange and symbol
    columns first. N-wide top-N fields become columns NAME[0], NAME[1], ..."""
    import pandas as pd
    cols = {}
    if names is not None and "venue" in arr.dtype.names:
        pairs = list(zip(arr["venue"].tolist(), arr["market"].tolist()))
        cols["exchange"] = [names.get(p, (None, None))[0] for p in pairs]
        cols["symbol"] = [names.get(p, (None, None))[1] for p in pairs]
    for f in arr.dtype.names:
        if f in ("len", "version", "crc") or (f == "symbol" and "symbol" in cols):
            continue
        col = arr[f]
        if f in SCALE_OF and SCALE_OF[f] in arr.dtype.names:
            sc = arr[SCALE_OF[f]]
            if col.ndim == 2:
                for i in range(col.shape[1]):
                    cols["%s[%d]" % (f, i)] = _decimals(col[:, i], sc, decimals)
            else:
                cols[f] = _decimals(col, sc, decimals)
        elif f in ("ts", "ts_event"):
            t = pd.to_datetime(col.astype(np.int64), unit="ns", utc=True)
            if f == "ts_event":
                t = t.where(col != 0)
            cols[f] = t
        elif col.dtype.kind == "S":
            cols[f] = [bytes(x).split(b"\0")[0].decode("utf-8", "replace") for x in col]
        else:
            cols[f] = np.asarray(col)
    return pd.DataFrame(cols)
