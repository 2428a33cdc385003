// zlib from Debian's zlib1g-dev: gzip layers are inflated (and test layers deflated) with it.
#include <zlib.h>

// inflateInit2/deflateInit2 are macros; Swift needs real functions.
static inline int skiff_inflate_init(z_stream *stream) {
    // 15 + 32: a gzip or zlib header, detected automatically.
    return inflateInit2(stream, 15 + 32);
}

static inline int skiff_deflate_init_gzip(z_stream *stream, int level) {
    // 15 + 16: write a gzip header.
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

// Plain zlib streams (SPDY header blocks): inflateInit/deflateInit are macros too.
static inline int skiff_inflate_init_zlib(z_stream *stream) {
    return inflateInit(stream);
}

static inline int skiff_deflate_init_zlib(z_stream *stream, int level) {
    return deflateInit(stream, level);
}
