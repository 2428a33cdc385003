// libzstd from Debian's libzstd-dev: zstd-compressed layers (application/vnd.oci.image.layer.v1.tar+zstd).
#include <zstd.h>
