#include "actors/training/safetensors.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>

namespace troupe::train {

namespace {
std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += c;
    }
  }
  return o + "\"";
}
}  // namespace

Result<void> write_safetensors(const std::string& path, const kernels::MlpSpec& spec, std::span<const float> params,
                               const std::map<std::string, std::string>& metadata) {
  const kernels::ParamLayout layout(spec);
  if (static_cast<int64_t>(params.size()) != layout.num_params())
    return Error(Errc::invalid_argument, "parameter count does not match the model");
  std::string h = "{";
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "pt");
  h += "\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : meta) {
    h += (first ? "" : ",") + json_string(k) + ":" + json_string(v);
    first = false;
  }
  h += "}";
  for (std::size_t i = 0; i < layout.layers().size(); ++i) {
    const auto& l = layout.layer(i);
    const std::string n = "layers." + std::to_string(i);
    h += ",\"" + n + ".weight\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(l.out) + "," + std::to_string(l.in) +
         "],\"data_offsets\":[" + std::to_string(l.w_offset * 4) + "," + std::to_string((l.w_offset + l.w_size()) * 4) +
         "]}";
    h += ",\"" + n + ".bias\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(l.out) + "],\"data_offsets\":[" +
         std::to_string(l.b_offset * 4) + "," + std::to_string((l.b_offset + l.b_size()) * 4) + "]}";
  }
  h += "}";
  while (h.size() % 8 != 0) h += ' ';
  const uint64_t len = h.size();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error(Errc::io_error, "cannot write " + tmp + ": " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(&len), sizeof len);  // x86-64: little-endian
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    out.write(reinterpret_cast<const char*>(params.data()), static_cast<std::streamsize>(params.size() * sizeof(float)));
    if (!out) return Error(Errc::io_error, "cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error(Errc::io_error, "cannot rename onto " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace troupe::train
