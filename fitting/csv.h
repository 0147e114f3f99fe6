#pragma once
// Reading the numeric columns of a CSV file for `plascale fit --csv`: RFC 4180 fields
// (quotes, doubled quotes, commas inside quotes), first line = header. Errors are
// plascale::InputError naming the file, line and column.

#include <string>
#include <vector>

namespace plascale::fitting {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as wide as the header
  std::vector<int> lines;                      // file line number of each row (1-based)
};

CsvTable read_csv(const std::string& path);

enum class Domain { any, positive };  // positive: the column is logged (power laws, loss laws)

// The named column parsed as numbers; throws InputError for a missing column (listing the
// columns there are), a non-numeric cell, or a value outside `domain` (naming line and column).
std::vector<double> numeric_column(const CsvTable& table, const std::string& name, Domain domain);

}  // namespace plascale::fitting
