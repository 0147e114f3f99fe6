#include "fitting/csv.h"

#include <fmt/core.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "sweeps/errors.h"

namespace plascale::fitting {

namespace {

// Splits one record starting at `position`; advances past its line end. Quoted fields may
// span lines, so `line` counts the newlines consumed.
std::vector<std::string> next_record(const std::string& text, size_t& position, int& line,
                                     const std::string& path) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  int start_line = line;
  while (position < text.size()) {
    char c = text[position++];
    if (quoted) {
      if (c == '"' && position < text.size() && text[position] == '"') {
        fields.back() += '"';
        ++position;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      ++line;
      return fields;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (quoted) throw InputError(fmt::format("{}:{}: unterminated quoted field", path, start_line));
  ++line;
  return fields;
}

}  // namespace

CsvTable read_csv(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw InputError(fmt::format("{}: cannot open the CSV file", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string text = buffer.str();
  CsvTable table;
  table.path = path;
  size_t position = 0;
  int line = 1;
  if (text.empty()) throw InputError(fmt::format("{}: the CSV file is empty; it needs a header line", path));
  table.header = next_record(text, position, line, path);
  while (position < text.size()) {
    int record_line = line;
    std::vector<std::string> fields = next_record(text, position, line, path);
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (fields.size() != table.header.size())
      throw InputError(fmt::format("{}:{}: row has {} fields, the header has {}", path, record_line,
                                   fields.size(), table.header.size()));
    table.rows.push_back(std::move(fields));
    table.lines.push_back(record_line);
  }
  return table;
}

std::vector<double> numeric_column(const CsvTable& table, const std::string& name, Domain domain) {
  size_t column = table.header.size();
  for (size_t i = 0; i < table.header.size(); ++i)
    if (table.header[i] == name) column = i;
  if (column == table.header.size()) {
    std::string columns;
    for (const std::string& header : table.header) columns += (columns.empty() ? "'" : ", '") + header + "'";
    throw InputError(fmt::format("{}: no column named '{}'; the columns are {}", table.path, name, columns));
  }
  std::vector<double> values;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& cell = table.rows[r][column];
    const char* begin = cell.c_str();
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(begin, &end);
    while (end && (*end == ' ' || *end == '\t')) ++end;
    if (cell.empty() || end == begin || *end != '\0' || !std::isfinite(value))
      throw InputError(fmt::format("{}:{}: column '{}' holds '{}', which is not a finite number", table.path,
                                   table.lines[r], name, cell));
    if (domain == Domain::positive && !(value > 0.0))
      throw InputError(fmt::format("{}:{}: column '{}' holds {}, but it must be positive (its logarithm is taken)",
                                   table.path, table.lines[r], name, cell));
    values.push_back(value);
  }
  if (values.empty()) throw InputError(fmt::format("{}: the CSV file has a header but no rows", table.path));
  return values;
}

}  // namespace plascale::fitting
