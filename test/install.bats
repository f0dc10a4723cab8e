# install.bats - make install gives a C feed handler everything it needs:
# the headers (<chr/chr.h>), libchr.a and chr.pc for plain pkg-config, and
# the programs read what it writes.
load test_helper

@test "a feed handler builds against the installed library and its records read back" {
	[[ "$BUILD" != */build-san/ ]] || skip "installs the regular build only"
	run -0 $T make -s -C "$BUILD" install DESTDIR="$PWD/inst" PREFIX=/usr
	[ -f inst/usr/lib/libchr.a ]
	[ -f inst/usr/include/chr/chr.h ]
	# a module's private header (NAME_int.h) is not an API
	[ -f inst/usr/include/chr/queue.h ]
	[ ! -e inst/usr/include/chr/queue_int.h ]
	[ ! -e inst/usr/include/chr/tardis_int.h ]
	[ -x inst/usr/bin/chr-tail ]
	[ -f inst/usr/share/man/man1/chr-tail.1 ]
	cat > feed.c <<'C'
#include <chr/chr.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	struct chr_writer w;

	chr_writer_init(&w, STDOUT_FILENO, "stdout", 0);
	for (int i = 0; i < 3; i++) {
		struct chr_rec *r = chr_writer_reserve(&w, 64 + sizeof(struct chr_trade));
		struct chr_trade *t = chr_rec_payload(r);

		r->type = CHR_TRADE;
		r->seq = r->src_seq = (uint64_t)i;
		r->ts = 1723111200000000000 + i;
		t->price = 618003 + i;
		t->price_scale = 1;
		t->size = 6;
		t->size_scale = 3;
		t->side = CHR_SIDE_BUY;
		strcpy(t->id, "42");
		chr_writer_commit(&w, r);
	}
	return chr_writer_close(&w) == 0 ? 0 : 3;
}
C
	export PKG_CONFIG_SYSROOT_DIR="$PWD/inst" PKG_CONFIG_PATH="$PWD/inst/usr/lib/pkgconfig"
	run -0 pkg-config --cflags --libs chr
	# libcurl and libcrypto are loaded by the first S3 request, not linked
	refute_output --regexp '-l(curl|crypto)( |$)'
	# a header of the user's own named like one of ours is not taken for it
	printf '#error "the user io.h was included"\n' > io.h
	cc -I. -o feed feed.c $(pkg-config --cflags --libs chr)
	./feed > trades.rec
	run -0 $T chr-tail --format json trades.rec
	[ "${#lines[@]}" -eq 3 ]
	assert_line --index 2 --partial '"61800.5"'
}

@test "the installed headers' generic names (io.h, rec.h) are not on the include path" {
	[[ "$BUILD" != */build-san/ ]] || skip "installs the regular build only"
	run -0 $T make -s -C "$BUILD" install DESTDIR="$PWD/inst" PREFIX=/usr
	export PKG_CONFIG_SYSROOT_DIR="$PWD/inst" PKG_CONFIG_PATH="$PWD/inst/usr/lib/pkgconfig"
	run -0 pkg-config --cflags chr
	[[ "$output" == *"-I$PWD/inst/usr/include"* ]]
	# a name is reached through chr/ only
	for h in io.h rec.h queue.h; do
		printf '#include <%s>\n' "$h" > use.c
		run -1 cc -E $(pkg-config --cflags chr) use.c
		printf '#include <chr/%s>\n' "$h" > use.c
		run -0 cc -fsyntax-only $(pkg-config --cflags chr) use.c
	done
}
