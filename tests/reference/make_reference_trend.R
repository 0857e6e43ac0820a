## Reference values for allocation_analysis.stats.trend.trend_test: linear
## trend of a proportion across ordered periods (semesters).
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_trend.R
## Needs base R (stats) and jsonlite. Writes tests/reference/r_reference_trend.json.
##
## For each small hand-chosen count series (x events out of n units in the
## periods of index idx):
##   * glm(cbind(x, n - x) ~ idx, family = binomial): slope, its standard
##     error, z, Wald p-value, the Wald interval of the slope
##     (confint.default) at 95 % and 90 %, intercept, residual deviance and df;
##   * prop.trend.test(x, n) with its default scores (1, 2, ..., k) and with
##     explicit scores score = idx (the Cochran-Armitage chi-square).
## A last series is separated (rate 0 in the first semesters, 1 in the last
## one): the maximum likelihood slope does not exist, so only
## prop.trend.test is recorded for it.
## The glm is run to a tight tolerance (epsilon = 1e-12) so that the
## reference is exact to about 1e-10.

suppressPackageStartupMessages(library(jsonlite))

out <- "tests/reference/r_reference_trend.json"

series <- list(
  # clear upward trend, six consecutive semesters, unequal totals
  rising = list(
    idx = 1:6,
    x = c(41, 52, 49, 63, 70, 81),
    n = c(210, 225, 198, 230, 221, 240)
  ),
  # flat rate (about one in four), unequal totals
  flat = list(
    idx = 1:5,
    x = c(25, 31, 22, 29, 27),
    n = c(100, 120, 90, 115, 105)
  ),
  # a semester without any demand (n = 0): carries no information
  zero_total = list(
    idx = 1:5,
    x = c(12, 0, 15, 21, 19),
    n = c(80, 0, 85, 90, 70)
  ),
  # falling trend with a missing semester (index gap 3 -> 5): explicit
  # scores differ from prop.trend.test's default 1, 2, ..., k
  falling_gap = list(
    idx = c(0, 1, 2, 4, 5),
    x = c(58, 50, 47, 36, 30),
    n = c(150, 160, 155, 150, 158)
  )
)

one <- function(d) {
  x <- d$x
  n <- d$n
  idx <- d$idx
  fit <- glm(cbind(x, n - x) ~ idx, family = binomial,
             control = glm.control(epsilon = 1e-12, maxit = 100))
  cf <- coef(summary(fit))
  ci95 <- confint.default(fit, "idx", level = 0.95)
  ci90 <- confint.default(fit, "idx", level = 0.90)
  pt_default <- prop.trend.test(x, n)
  pt_scores <- prop.trend.test(x, n, score = idx)
  list(
    idx = idx, x = x, n = n,
    slope = unname(cf["idx", "Estimate"]),
    se = unname(cf["idx", "Std. Error"]),
    z = unname(cf["idx", "z value"]),
    p_value = unname(cf["idx", "Pr(>|z|)"]),
    intercept = unname(cf["(Intercept)", "Estimate"]),
    ci95 = unname(as.vector(ci95)),
    ci90 = unname(as.vector(ci90)),
    deviance = deviance(fit),
    df_residual = df.residual(fit),
    converged = fit$converged,
    trend_default_scores = list(
      statistic = unname(pt_default$statistic),
      p_value = pt_default$p.value
    ),
    trend_explicit_scores = list(
      statistic = unname(pt_scores$statistic),
      p_value = pt_scores$p.value
    )
  )
}

separated <- list(idx = 1:4, x = c(0, 0, 4, 10), n = c(10, 12, 10, 10))
pt_sep <- prop.trend.test(separated$x, separated$n, score = separated$idx)
separated$trend_explicit_scores <- list(
  statistic = unname(pt_sep$statistic),
  p_value = pt_sep$p.value
)

res <- list(
  r_version = R.version.string,
  series = lapply(series, one),
  separated = separated
)
write_json(res, out, auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("written", out, "\n")
