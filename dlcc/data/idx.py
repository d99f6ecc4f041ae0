"""The IDX file format (LeCun's MNIST files), read from bytes.

Layout, all integers big-endian:
    bytes 0-1   0x00 0x00
    byte  2     element type: 08 uint8, 09 int8, 0B int16, 0C int32, 0D float32, 0E float64
    byte  3     number of dimensions r
    then        r uint32 sizes (n, rows, cols for images; n for labels)
    then        prod(sizes) elements, row-major
So train-images-idx3-ubyte starts 00 00 08 03 | 60000 | 28 | 28 and holds 16 + 60000*28*28 bytes.
"""

import math

import numpy as np

from dlcc.errors import DataError

ELEMENT_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """The array stored in IDX bytes `data` (native byte order); `name` is used in errors."""
    if len(data) < 4:
        raise DataError(f"{name}: truncated IDX file ({len(data)} bytes, the header alone is 4+)")
    zero, type_code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in ELEMENT_TYPES or ndim == 0:
        raise DataError(
            f"{name}: not an IDX file (magic bytes {data[:4].hex()}; expected 0000 then a type "
            f"code in {', '.join(f'{c:02x}' for c in ELEMENT_TYPES)} and a dimension count)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{name}: truncated IDX file ({len(data)} bytes; header is {header_size})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = ELEMENT_TYPES[type_code]
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(
            f"{name}: IDX file {problem}: header says shape {shape} ({expected} bytes), "
            f"file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX bytes for `array` (the inverse of parse_idx; tests build fixtures with it)."""
    codes = {dtype.str[1:]: code for code, dtype in ELEMENT_TYPES.items()}
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, codes[big_endian.dtype.str[1:]], array.ndim])
    header += b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + big_endian.tobytes()
