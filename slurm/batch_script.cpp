#include "slurm/batch_script.h"

#include <fmt/core.h>

#include <algorithm>

#include "slurm/shell.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale::slurm {

namespace fs = std::filesystem;

namespace {

// A value sbatch reads back unchanged from an "#SBATCH --name=value" line: sbatch splits
// those lines at whitespace, strips quotes and ends them at '#', so none of these may occur.
void check_directive_value(const std::string& value, const std::string& where) {
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte == 0x7f || c == '\'' || c == '"' || c == '#' || c == '\\')
      throw InputError(fmt::format(
          "{}: {} contains {}; an #SBATCH line cannot carry it; allowed: printable characters other than "
          "whitespace, quotes, '#' and '\\'",
          where, double_quoted(value), byte < 0x21 || byte == 0x7f ? "whitespace or a control character" :
                                                                     fmt::format("'{}'", c)));
  }
}

// Paths reach sbatch on its command line (never parsed by a shell), but Slurm itself reads
// '\' in --output as "no % patterns" and cannot store control characters in job records.
void check_path(const fs::path& path, const std::string& what) {
  const std::string text = path.string();
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '\\')
      throw InputError(fmt::format("{} {}: contains {}; allowed: any path without control characters or '\\'",
                                   what, double_quoted(text), c == '\\' ? "'\\'" : "a control character"));
  }
  if (!path.is_absolute()) throw InputError(fmt::format("{} {} must be absolute", what, double_quoted(text)));
}

// Slurm's --output pattern language: '%' starts a pattern, "%%" is one '%'.
std::string escape_percent(const std::string& text) {
  std::string escaped;
  for (char c : text) escaped += c == '%' ? "%%" : std::string(1, c);
  return escaped;
}

void directive(std::string& script, const std::string& name, const std::string& value) {
  if (!value.empty()) script += fmt::format("#SBATCH --{}={}\n", name, value);
}

void directive(std::string& script, const std::string& name, int value) {
  if (value > 0) script += fmt::format("#SBATCH --{}={}\n", name, value);
}

// The lines every job of the sweep shares: name, where, who pays.
std::string header(const BatchJob& job, const std::string& purpose, const std::string& job_name) {
  std::string script = "#!/bin/bash\n";
  script += fmt::format("# {}\n# Written by `plascale submit` (docs/slurm.md); the study is {}.\n", purpose,
                        job.study_dir.string());
  directive(script, "job-name", job_name);
  directive(script, "partition", job.partition);
  directive(script, "account", job.account);
  directive(script, "qos", job.config.qos);
  return script;
}

std::string quoted_list(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    text += shell_quote(word);
  }
  return text;
}

std::string launch_line(const SlurmConfig& config) {
  std::string command = "\"$plascale\" run \"$sweep\" --study \"$study\"";
  if (config.gpus_per_node > 0) command += fmt::format(" --gpus-per-node {}", config.gpus_per_node);
  command += " &";
  if (config.launcher == "mpirun") {
    return "# Open MPI refuses to start as root unless told it is meant.\n"
           "if [ \"$(id -u)\" -eq 0 ]; then\n"
           "  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n"
           "fi\n"
           "mpirun " + command + "\n";
  }
  return "srun --mpi=pmix " + command + "\n";
}

}  // namespace

fs::path slurm_dir(const fs::path& study_dir) { return study_dir / "slurm"; }
fs::path sweep_script_path(const fs::path& study_dir) { return slurm_dir(study_dir) / "sweep.sbatch"; }
fs::path fit_script_path(const fs::path& study_dir) { return slurm_dir(study_dir) / "fit.sbatch"; }

void check_batch_job(const BatchJob& job) {
  const bool plain_name = !job.job_name.empty() && std::all_of(job.job_name.begin(), job.job_name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
  if (!plain_name)
    throw InputError(fmt::format("--job-name {}: allowed: letters, digits, '-', '_' and '.'", double_quoted(job.job_name)));
  check_directive_value(job.partition, "--partition (resources.partition)");
  check_directive_value(job.account, "--account (resources.account)");
  const SlurmConfig& config = job.config;
  check_directive_value(config.qos, "--qos (slurm.qos)");
  check_directive_value(config.mem, "--mem (slurm.mem)");
  check_directive_value(config.constraint, "--constraint (slurm.constraint)");
  if (!config.time_limit.empty() && !valid_time_limit(config.time_limit))
    throw InputError(fmt::format("--time (slurm.time_limit) {} is not a Slurm time; allowed: \"HH:MM:SS\", "
                                 "\"D-HH:MM:SS\" or minutes \"MM\"", double_quoted(config.time_limit)));
  for (const std::string& option : config.sbatch_options) {
    check_directive_value(option, "--sbatch-option (slurm.sbatch_options)");
    if (option.size() < 3 || option.rfind("--", 0) != 0)
      throw InputError(fmt::format("--sbatch-option (slurm.sbatch_options) {}: allowed: a long sbatch option, "
                                   "\"--name=value\" or \"--flag\"", double_quoted(option)));
  }
  if (config.nodes < 1) throw InputError(fmt::format("--nodes {}: allowed: at least 1", config.nodes));
  if (config.workers_per_node < 1)
    throw InputError(fmt::format("--workers-per-node {}: allowed: at least 1", config.workers_per_node));
  if (config.cpus_per_gpu > 0 && config.gpus_per_node == 0)
    throw InputError("--cpus-per-gpu (slurm.cpus_per_gpu) needs GPUs: set --gpus-per-node (slurm.gpus_per_node)");
  if (config.cpus_per_gpu > 0 && config.cpus_per_task > 0)
    throw InputError("--cpus-per-gpu and --cpus-per-task (slurm.cpus_per_gpu, slurm.cpus_per_task) exclude each "
                     "other in Slurm; give one");
  if (config.launcher != "srun" && config.launcher != "mpirun")
    throw InputError(fmt::format("--launcher {}: allowed: srun, mpirun", double_quoted(config.launcher)));
  if (config.warning_seconds < 1)
    throw InputError(fmt::format("--warning-seconds {}: allowed: at least 1", config.warning_seconds));
  if (config.max_resubmits < 0)
    throw InputError(fmt::format("--max-resubmits {}: allowed: 0 or more", config.max_resubmits));
  check_path(job.study_dir, "study folder");
  check_path(job.sweep_file, "sweep file");
  check_path(job.plascale, "plascale binary");
}

std::vector<std::string> sweep_sbatch_options(const BatchJob& job) {
  return {"--chdir=" + job.study_dir.string(),
          "--output=" + escape_percent(slurm_dir(job.study_dir).string()) + "/sweep-%j.log"};
}

std::vector<std::string> fit_sbatch_options(const BatchJob& job) {
  return {"--chdir=" + job.study_dir.string(),
          "--output=" + escape_percent(slurm_dir(job.study_dir).string()) + "/fit-%j.log"};
}

std::string sweep_script(const BatchJob& job) {
  const SlurmConfig& config = job.config;
  std::string script = header(job, "plascale sweep job: runs the sweep in one allocation, resubmits itself when warned.",
                              job.job_name);
  directive(script, "nodes", config.nodes);
  directive(script, "ntasks", config.nodes * config.workers_per_node + 1);
  directive(script, "gpus-per-node", config.gpus_per_node);
  directive(script, "cpus-per-gpu", config.cpus_per_gpu);
  directive(script, "cpus-per-task", config.cpus_per_task);
  directive(script, "mem", config.mem);
  directive(script, "time", config.time_limit);
  directive(script, "constraint", config.constraint);
  directive(script, "signal", fmt::format("B:USR1@{}", config.warning_seconds));
  for (const std::string& option : config.sbatch_options) script += "#SBATCH " + option + "\n";
  script += fmt::format(R"script(set -u

plascale={}
sweep={}
study={}
max_resubmits={}
resubmit_index=${{1:-0}}
# Options naming paths go on sbatch's command line: an #SBATCH line cannot quote them.
sbatch_options=({})
jobs_file="$study/slurm/jobs.tsv"

record_job() {{  # JOB_ID KIND RESUBMIT_INDEX
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$3" >>"$jobs_file"
}}
fit_job() {{ awk -F'\t' '$2 == "fit" {{ id = $1 }} END {{ print id }}' "$jobs_file"; }}
cancel_fit_job() {{  # WHY
  local fit
  fit=$(fit_job)
  if [ -n "$fit" ]; then
    echo "plascale job: cancelling fit job $fit: $1"
    scancel "$fit"
  fi
}}

# The warning (--signal=B:USR1) comes to this shell only. Bash runs a trap only between
# commands, so the coordinator runs in the background while this shell waits for it.
on_warning() {{
  echo "plascale job: warning signal; the coordinator checkpoints every run and exits"
  kill -USR1 "$coordinator" 2>/dev/null
}}
trap on_warning USR1 TERM

{}coordinator=$!
# A trapped signal interrupts `wait`; wait again until the coordinator has exited.
wait "$coordinator"
while kill -0 "$coordinator" 2>/dev/null; do wait "$coordinator"; done
wait "$coordinator"
code=$?

case "$code" in
  0)
    echo "plascale job: the sweep is complete"
    ;;
  3)
    if [ "$resubmit_index" -ge "$max_resubmits" ]; then
      echo "plascale job: not resubmitting: already resubmitted $max_resubmits times (max_resubmits);" \
           "run plascale submit again to continue"
      cancel_fit_job "the sweep is not complete"
      exit 3
    fi
    next=$((resubmit_index + 1))
    if ! new_job=$(sbatch --parsable --dependency="afterany:$SLURM_JOB_ID" "${{sbatch_options[@]}}" \
                          "$study/slurm/sweep.sbatch" "$next"); then
      echo "plascale job: resubmission failed; run plascale submit again to continue"
      cancel_fit_job "the sweep is not complete"
      exit 3
    fi
    new_job=${{new_job%%;*}}
    record_job "$new_job" sweep "$next"
    fit=$(fit_job)
    if [ -n "$fit" ] && ! scontrol update JobId="$fit" Dependency="afterok:$new_job"; then
      echo "plascale job: could not move fit job $fit after job $new_job; do it by hand:" \
           "scontrol update JobId=$fit Dependency=afterok:$new_job"
    fi
    echo "plascale job: resubmitted as job $new_job (resubmission $next of at most $max_resubmits)"
    ;;
  *)
    cancel_fit_job "the sweep exited with code $code"
    ;;
esac
exit "$code"
)script",
                        shell_quote(job.plascale.string()), shell_quote(job.sweep_file.string()),
                        shell_quote(job.study_dir.string()), config.max_resubmits,
                        quoted_list(sweep_sbatch_options(job)), launch_line(config));
  return script;
}

std::string fit_script(const BatchJob& job) {
  std::string script = header(job, "plascale fit job: fits and reports the study once its sweep job has completed.",
                              job.job_name + "-fit");
  directive(script, "ntasks", 1);
  script += fmt::format(R"script(set -eu

plascale={}
study={}
"$plascale" fit "$study"
"$plascale" report "$study" --out "$study/report"
)script",
                        shell_quote(job.plascale.string()), shell_quote(job.study_dir.string()));
  return script;
}

}  // namespace plascale::slurm
