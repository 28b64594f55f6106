/* Hologram Atlas — the DLPack ABI, as far as the extension uses it.
 *
 * DLPack (https://github.com/dmlc/dlpack) is a C ABI for handing a tensor
 * from one library to another without copying.  These declarations follow
 * the layouts of its dlpack.h (version 1.0, with the legacy, unversioned
 * managed tensor); they are written here so that the extension needs no
 * third-party header.  The Python side of the protocol (capsule names,
 * __dlpack__ and __dlpack_device__) is in buffer.c. */
#ifndef HOLOGRAM_PY_DLPACK_H
#define HOLOGRAM_PY_DLPACK_H

#include <stdint.h>

/* The DLPack version this extension produces. */
#define HG_DLPACK_MAJOR 1
#define HG_DLPACK_MINOR 0

/* DLDeviceType: only the CPU is ours; the other values name devices in
 * error messages. */
enum {
    HG_DL_CPU = 1,
};

/* DLDataTypeCode */
enum {
    HG_DL_INT = 0,
    HG_DL_UINT = 1,
    HG_DL_FLOAT = 2,
    HG_DL_BOOL = 6,
};

/* DLManagedTensorVersioned.flags */
#define HG_DL_FLAG_READ_ONLY ((uint64_t)1 << 0)
#define HG_DL_FLAG_IS_COPIED ((uint64_t)1 << 1)

/* PyCapsule names: a producer hands out an unused capsule; the consumer
 * that takes its tensor renames it to the used name, after which the
 * capsule's destructor leaves the tensor alone. */
#define HG_DL_CAPSULE "dltensor"
#define HG_DL_CAPSULE_USED "used_dltensor"
#define HG_DL_CAPSULE_V "dltensor_versioned"
#define HG_DL_CAPSULE_V_USED "used_dltensor_versioned"

typedef struct hg_dl_device {
    int32_t device_type; /* DLDeviceType (a C enum: int sized) */
    int32_t device_id;
} hg_dl_device;

typedef struct hg_dl_dtype {
    uint8_t code; /* DLDataTypeCode */
    uint8_t bits;
    uint16_t lanes;
} hg_dl_dtype;

typedef struct hg_dl_tensor {
    void *data;
    hg_dl_device device;
    int32_t ndim;
    hg_dl_dtype dtype;
    int64_t *shape;
    int64_t *strides; /* in elements; NULL means C-contiguous */
    uint64_t byte_offset;
} hg_dl_tensor;

/* DLManagedTensor: the legacy capsule's payload. */
typedef struct hg_dl_managed {
    hg_dl_tensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct hg_dl_managed *self);
} hg_dl_managed;

typedef struct hg_dl_version {
    uint32_t major;
    uint32_t minor;
} hg_dl_version;

/* DLManagedTensorVersioned: the versioned capsule's payload. */
typedef struct hg_dl_managed_v {
    hg_dl_version version;
    void *manager_ctx;
    void (*deleter)(struct hg_dl_managed_v *self);
    uint64_t flags;
    hg_dl_tensor dl_tensor;
} hg_dl_managed_v;

#endif /* HOLOGRAM_PY_DLPACK_H */
