#pragma once
// Text that goes into the page: every string from a study passes through html_escape.

#include <string>
#include <string_view>

namespace plascale::report {

// & < > " ' as character references: safe in element content and in quoted attributes.
std::string html_escape(std::string_view text);

// RFC 4648 base64 (with padding), for figures embedded as data: URIs.
std::string base64(std::string_view bytes);

// A file:// URL for an absolute path, percent-encoding everything but unreserved characters and '/'.
std::string file_url(const std::string& absolute_path);

}  // namespace plascale::report
