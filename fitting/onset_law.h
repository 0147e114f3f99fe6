#pragma once
// The onset law across model sizes: onset_tokens = a * params^b (REFERENCES.md section 1),
// with right-censored runs handled explicitly.
//
// Model: log onset_i = log a + b log params_i + eps_i, eps_i ~ N(0, sigma^2). A censored run
// contributes P(log onset > log last_probe_tokens) to the likelihood (a Tobit model in log
// space), so runs that have not degraded yet pull the law up instead of being ignored or
// given a made-up onset. Without censored runs this maximum-likelihood fit is exactly the
// reference study's OLS in log-log space, and the reported intervals are then its classic t
// intervals; with censoring, standard errors come from the observed information scaled by
// n/(n-2) (the same small-sample correction), with t quantiles on n-2 degrees of freedom.

#include <span>
#include <string>
#include <vector>

#include "fitting/curve.h"
#include "fitting/summary.h"

namespace plascale::fitting {

struct OnsetObservation {
  double params = 0.0;        // non-embedding parameters
  double onset_tokens = 0.0;  // the onset, or for a censored run its last probe's tokens
  bool censored = false;
};

enum class CensoringTreatment {
  tobit,  // censored log-normal likelihood (default)
  drop,   // leave censored runs out (biased low when large sizes censor more often)
};

const char* censoring_treatment_name(CensoringTreatment treatment);

struct OnsetLawOptions {
  CensoringTreatment censoring = CensoringTreatment::tobit;
  double level = 0.95;
  std::vector<double> predict_at = {1e9, 7e9};  // parameters to extrapolate to
};

struct OnsetLaw {
  double a = 0.0, b = 0.0;
  double se_log_a = 0.0, se_b = 0.0;
  double b_low = 0.0, b_high = 0.0;  // t interval at options.level
  double sigma = 0.0;                // scatter of log onsets about the law
  double covariance[4] = {};         // of (log a, b), row-major
  int runs = 0, degraded = 0, censored = 0, used = 0;
  std::string censoring;             // how censored runs were handled, in words
  std::vector<Prediction> predictions;  // onset tokens with prediction intervals
  // Fit quality on the degraded runs' onsets in linear space, as the reference reports it.
  double r2 = 0.0, rmse = 0.0, loo_rmse = 0.0;
};

// Needs at least 3 usable runs with 2 distinct sizes and at least 1 degraded run, and with
// censoring a likelihood that has a maximum; throws std::invalid_argument saying what is
// missing otherwise.
OnsetLaw fit_onset_law(std::span<const OnsetObservation> observations, const OnsetLawOptions& options);

// The censored maximum-likelihood estimate alone: theta = (log a, b), covariance of theta as
// described above, residual_variance = sigma^2 n/(n-2).
CurveFit fit_censored_power_law(std::span<const OnsetObservation> observations);

}  // namespace plascale::fitting
