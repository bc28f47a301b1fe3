// SPDX-License-Identifier: Apache-2.0
// Checks that files are whole PNG images: the signature, IHDR first (13 bytes, width and height not zero, a
// known colour type and bit depth), IEND last and empty with nothing after it, every chunk's CRC, and the image
// data (the IDAT chunks together) a zlib stream that inflates to exactly the rows IHDR describes.
// Usage: png_check FILE...   Prints "FILE: PNG WIDTHxHEIGHT, N chunks" per good file; exits 1 at the first bad
// one, naming it and what is wrong.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <zlib.h>

namespace {

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

// Bits per pixel of a colour type and bit depth, 0 when PNG does not allow the pair.
int bits_per_pixel(int colour, int depth) {
  switch (colour) {
    case 0: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16 ? depth : 0;
    case 3: return depth == 1 || depth == 2 || depth == 4 || depth == 8 ? depth : 0;
    case 2: return depth == 8 || depth == 16 ? 3 * depth : 0;
    case 4: return depth == 8 || depth == 16 ? 2 * depth : 0;
    case 6: return depth == 8 || depth == 16 ? 4 * depth : 0;
    default: return 0;
  }
}

std::string check(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || !std::equal(signature, signature + 8, bytes.begin())) throw std::runtime_error("no PNG signature");
  std::size_t at = 8, chunks = 0;
  std::uint32_t width = 0, height = 0;
  int bpp = 0, interlace = 0;
  std::string last;
  std::vector<unsigned char> data;
  while (at < bytes.size()) {
    if (last == "IEND") throw std::runtime_error("bytes after IEND");
    if (bytes.size() - at < 12) throw std::runtime_error("chunk " + std::to_string(chunks) + " is cut short");
    const std::uint32_t length = big_endian(&bytes[at]);
    if (length > bytes.size() - at - 12) throw std::runtime_error("chunk " + std::to_string(chunks) + " runs past the end");
    const std::string type(bytes.begin() + static_cast<std::ptrdiff_t>(at + 4), bytes.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const unsigned char* body = &bytes[at + 8];
    const std::uint32_t stored = big_endian(body + length);
    const auto computed = static_cast<std::uint32_t>(crc32(0L, &bytes[at + 4], static_cast<uInt>(length + 4)));
    if (stored != computed) throw std::runtime_error("chunk " + std::to_string(chunks) + " (" + type + ") has a wrong CRC");
    if (chunks == 0) {
      if (type != "IHDR" || length != 13) throw std::runtime_error("the first chunk is not a 13-byte IHDR");
      width = big_endian(body);
      height = big_endian(body + 4);
      bpp = bits_per_pixel(body[9], body[8]);
      interlace = body[12];
      if (width == 0 || height == 0) throw std::runtime_error("IHDR gives a width or height of 0");
      if (bpp == 0) throw std::runtime_error("IHDR gives an unknown colour type and bit depth");
    } else if (type == "IHDR") {
      throw std::runtime_error("a second IHDR");
    }
    if (type == "IDAT") data.insert(data.end(), body, body + length);
    if (type == "IEND" && length != 0) throw std::runtime_error("IEND is not empty");
    last = type;
    at += 12 + length;
    ++chunks;
  }
  if (last != "IEND") throw std::runtime_error("the last chunk is not IEND");
  if (data.empty()) throw std::runtime_error("no IDAT chunk");
  // Without interlacing, each row is a filter byte and its pixels.
  const std::uint64_t row = 1 + (std::uint64_t{width} * static_cast<std::uint64_t>(bpp) + 7) / 8;
  const std::uint64_t expected = row * height;
  if (interlace == 0 && expected < (std::uint64_t{1} << 31)) {
    std::vector<unsigned char> pixels(static_cast<std::size_t>(expected) + 1);
    uLongf size = static_cast<uLongf>(pixels.size());
    const int code = uncompress(pixels.data(), &size, data.data(), static_cast<uLong>(data.size()));
    if (code != Z_OK) throw std::runtime_error("the image data does not inflate (zlib code " + std::to_string(code) + ")");
    if (size != expected) {
      throw std::runtime_error("the image data inflates to " + std::to_string(size) + " bytes, IHDR describes " +
                               std::to_string(expected));
    }
  }
  return "PNG " + std::to_string(width) + "x" + std::to_string(height) + ", " + std::to_string(chunks) + " chunks";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: png_check FILE...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    try {
      fmt::print("{}: {}\n", argv[i], check(argv[i]));
    } catch (const std::exception& e) {
      fmt::print(stderr, "{}: not a whole PNG: {}\n", argv[i], e.what());
      return 1;
    }
  }
  return 0;
}
