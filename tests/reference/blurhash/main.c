/*
 * A loop around the reference encoder for the tests: reads "X_COMPONENTS Y_COMPONENTS WIDTH
 * HEIGHT\n" then WIDTH * HEIGHT * 3 bytes of RGB from stdin, writes the BlurHash and a newline,
 * until end of input.
 */
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"

int main(void) {
	int x, y, width, height;
	while(scanf("%d %d %d %d", &x, &y, &width, &height) == 4) {
		getchar(); /* the newline */
		size_t size = (size_t)width * height * 3;
		unsigned char *rgb = malloc(size);
		if(!rgb || fread(rgb, 1, size, stdin) != size) return 1;
		const char *hash = blurHashForPixels(x, y, width, height, rgb, (size_t)width * 3);
		printf("%s\n", hash ? hash : "");
		fflush(stdout);
		free(rgb);
	}
	return 0;
}
