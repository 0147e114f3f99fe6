// Bad files give a clear InputError naming the file: newer format, not HDF5, truncated,
// missing groups, bad attributes.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <fstream>

#include "storage/study.h"
#include "tests/storage/storage_test_util.h"

namespace plascale {
namespace {

using testing::make_run;
using testing::ScratchDir;

// The message of the InputError `action` throws ("" if it throws nothing).
template <typename Action>
std::string input_error(Action action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

void set_int_attribute(const std::filesystem::path& file, const char* object, const char* name, int64_t value) {
  const hid_t handle = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(handle, 0);
  const hid_t target = H5Oopen(handle, object, H5P_DEFAULT);
  const hid_t attribute = H5Aopen(target, name, H5P_DEFAULT);
  ASSERT_GE(attribute, 0);
  ASSERT_GE(H5Awrite(attribute, H5T_NATIVE_INT64, &value), 0);
  H5Aclose(attribute);
  H5Oclose(target);
  H5Fclose(handle);
}

TEST(StorageErrors, NewerFormatVersionIsRefused) {
  ScratchDir scratch;
  StudyWriter::create(scratch.path(), "", "").register_run(make_run(0));
  const auto study_file = study_file_path(scratch.path());
  set_int_attribute(study_file, "/", "format_version", 7);
  const std::string expected = study_file.string() +
                               " has format_version 7; this plascale reads format_version 1; upgrade plascale";
  EXPECT_EQ(input_error([&] { StudyReader reader(scratch.path()); }), expected);
  EXPECT_EQ(input_error([&] { StudyWriter::open(scratch.path()); }), expected);

  const auto run_file = run_file_path(scratch.path(), "run0000");
  RunFileWriter::create(run_file, make_run(0));
  set_int_attribute(run_file, "/", "format_version", 2);
  EXPECT_EQ(input_error([&] { RunFileWriter::open(run_file); }),
            run_file.string() + " has format_version 2; this plascale reads format_version 1; upgrade plascale");
}

TEST(StorageErrors, NonHdf5FileIsRefused) {
  ScratchDir scratch;
  std::ofstream(study_file_path(scratch.path())) << "format_version: 1\n";
  const std::string message = input_error([&] { StudyReader reader(scratch.path()); });
  EXPECT_EQ(message, study_file_path(scratch.path()).string() + ": not an HDF5 file (no HDF5 signature found)");
}

TEST(StorageErrors, TruncatedFileIsRefusedWithItsName) {
  ScratchDir scratch;
  {
    auto writer = StudyWriter::create(scratch.path(), std::string(20000, 'x'), "");
    for (int i = 0; i < 20; ++i) writer.register_run(make_run(i));
  }
  const auto study_file = study_file_path(scratch.path());
  std::filesystem::resize_file(study_file, std::filesystem::file_size(study_file) / 2);
  const std::string message = input_error([&] { StudyReader(scratch.path()).runs(); });
  EXPECT_EQ(message.rfind(study_file.string() + ": cannot open: the file is truncated or damaged", 0), 0u)
      << message;
}

TEST(StorageErrors, MissingStudyOrGroupsAreNamed) {
  ScratchDir scratch;
  EXPECT_EQ(input_error([&] { StudyReader reader(scratch.path() / "nowhere"); }),
            (scratch.path() / "nowhere").string() + ": no such study folder");
  EXPECT_EQ(input_error([&] { StudyReader reader(scratch.path()); }),
            study_file_path(scratch.path()).string() + ": no such file");

  // An HDF5 file with a version but no /runs group.
  const auto study_file = study_file_path(scratch.path());
  const hid_t file = H5Fcreate(study_file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const int64_t version = 1;
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, "format_version", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attribute, H5T_NATIVE_INT64, &version);
  H5Aclose(attribute);
  H5Sclose(space);
  H5Fclose(file);
  const std::string message = input_error([&] { StudyWriter::open(scratch.path()); });
  EXPECT_EQ(message, study_file.string() + ": group 'runs' is missing");
  EXPECT_NE(input_error([&] { StudyReader reader(scratch.path()); }).find("plascale_version' is missing"),
            std::string::npos);
}

TEST(StorageErrors, FileWithoutVersionIsNotAPlascaleFile) {
  ScratchDir scratch;
  const auto study_file = study_file_path(scratch.path());
  H5Fclose(H5Fcreate(study_file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_EQ(input_error([&] { StudyReader reader(scratch.path()); }),
            study_file.string() + " has no format_version attribute: not a plascale file");
}

TEST(StorageErrors, BadRunAttributesNameTheRun) {
  ScratchDir scratch;
  StudyWriter::create(scratch.path(), "", "").register_run(make_run(4));
  const auto study_file = study_file_path(scratch.path());
  set_int_attribute(study_file, "/runs/run0004", "attempts", 1);  // fine: still an integer
  {
    // Replace the status string by a number.
    const hid_t file = H5Fopen(study_file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t group = H5Gopen2(file, "/runs/run0004", H5P_DEFAULT);
    H5Adelete(group, "status");
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attribute = H5Acreate2(group, "status", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    const int64_t value = 3;
    H5Awrite(attribute, H5T_NATIVE_INT64, &value);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Gclose(group);
    H5Fclose(file);
  }
  EXPECT_EQ(input_error([&] { StudyReader(scratch.path()).runs(); }),
            study_file.string() + ":/runs/run0004: attribute 'status' must be a single string");
}

}  // namespace
}  // namespace plascale
