/* json-jansson.c - the peer of bench/feed: each line of a capture
 * (`<ns> <JSON>`) parsed by jansson's json_loadb and freed, nothing else.
 * usage: json-jansson FILE; prints the lines parsed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lines = 0, bad = 0;

	if (argc != 2 || (f = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: json-jansson FILE\n");
		return 2;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		char *sp = memchr(line, ' ', (size_t)n);
		json_error_t je;
		json_t *v;

		if (sp == NULL)
			continue;
		sp++;
		v = json_loadb(sp, (size_t)(line + n - sp), JSON_DECODE_ANY, &je);
		if (v == NULL)
			bad++;
		json_decref(v);
		lines++;
	}
	printf("%lu lines, %lu refused\n", lines, bad);
	free(line);
	fclose(f);
	return 0;
}
