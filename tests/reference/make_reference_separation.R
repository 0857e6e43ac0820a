## Reference values for the scale invariance of the separation checks
## (logit_disparity, cox, fairlie, ipw_disparity with a control measured as a
## share in [0, 0.05] and with a large coefficient).
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_separation.R tests/reference/r_reference_separation.json
## Needs R >= 4 with the package survival. Reads the committed data set
## tests/reference/separation_data.csv: 400 rows generated once with a seeded
## numpy generator (numpy.random.default_rng(20261202)):
##   groupe    "local" (55 %) / "etranger" (45 %)
##   part      share in [0, 0.05] (uniform, 6 decimals)
##   zone      "centre" / "nord" / "sud"
##   y         Bernoulli(plogis(-2 + 0.5 [etranger] + 60 part + 0.4 [sud] - 0.3 [nord]))
##   duree     min(exponential time of hazard 0.1 exp(-0.4 [etranger] + 60 part),
##             uniform(0, 30) censoring) + 0.001, 3 decimals
##   evenement 1 when the event is observed
## The model coefficients of `part` are about 60 per unit share (0.6 per
## percentage point): the former "|coefficient| > 15" separation rule
## rejected these fits although R converges.

suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/reference/r_reference_separation.json"
d <- read.csv("tests/reference/separation_data.csv", stringsAsFactors = FALSE)
d$groupe <- factor(d$groupe, levels = c("local", "etranger"))
d$zone <- factor(d$zone, levels = c("centre", "nord", "sud"))
d$pct <- 100 * d$part

## --- minimal JSON writer (jsonlite is not assumed) --------------------------
num <- function(x) {
  ifelse(is.na(x), "NaN", ifelse(is.infinite(x), ifelse(x > 0, "Infinity", "-Infinity"),
                                  sprintf("%.15g", x)))
}
to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.list(x)) {
    nm <- names(x)
    items <- vapply(seq_along(x), function(i) {
      paste0(inner, "\"", nm[i], "\": ", to_json(x[[i]], inner))
    }, character(1))
    return(paste0("{\n", paste(items, collapse = ",\n"), "\n", indent, "}"))
  }
  if (is.character(x)) {
    vals <- paste0("\"", x, "\"")
  } else {
    vals <- num(as.numeric(x))
  }
  if (length(x) == 1) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}
named <- function(x) { # named numeric vector -> JSON object
  l <- as.list(unname(x)); names(l) <- names(x); l
}
z975 <- qnorm(0.975)
ref <- list()

## --- 1. logistic regression, control in shares and in percent ---------------
glm_summary <- function(fit) {
  b <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  list(
    n = nobs(fit),
    converged = as.integer(fit$converged),
    odds_ratio = exp(b[["groupeetranger"]]),
    ci_low = exp(b[["groupeetranger"]] - z975 * se[["groupeetranger"]]),
    ci_high = exp(b[["groupeetranger"]] + z975 * se[["groupeetranger"]]),
    p_value = 2 * pnorm(-abs(b[["groupeetranger"]] / se[["groupeetranger"]])),
    coefficients = named(b),
    std_errors = named(se),
    max_abs_linear_predictor = max(abs(fit$linear.predictors))
  )
}
fit_share <- glm(y ~ groupe + part + zone, family = binomial, data = d,
                 control = glm.control(epsilon = 1e-12, maxit = 100))
fit_pct <- glm(y ~ groupe + pct + zone, family = binomial, data = d,
               control = glm.control(epsilon = 1e-12, maxit = 100))
ref$logit <- list(share = glm_summary(fit_share), percent = glm_summary(fit_pct))

## --- 2. Cox model (Efron ties) ----------------------------------------------
cox_summary <- function(fit) {
  b <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  list(
    n = fit$n, n_events = fit$nevent,
    hazard_ratio = exp(b[["groupeetranger"]]),
    ci_low = exp(b[["groupeetranger"]] - z975 * se[["groupeetranger"]]),
    ci_high = exp(b[["groupeetranger"]] + z975 * se[["groupeetranger"]]),
    p_value = 2 * pnorm(-abs(b[["groupeetranger"]] / se[["groupeetranger"]])),
    coefficients = named(b),
    std_errors = named(se),
    loglik = fit$loglik[2]
  )
}
ctl <- coxph.control(eps = 1e-10, iter.max = 100)
cox_share <- coxph(Surv(duree, evenement) ~ groupe + part + zone, data = d, ties = "efron",
                   control = ctl)
cox_pct <- coxph(Surv(duree, evenement) ~ groupe + pct + zone, data = d, ties = "efron",
                 control = ctl)
ref$cox <- list(share = cox_summary(cox_share), percent = cox_summary(cox_pct))

## --- 3. IPW (ATT) with a logistic propensity, trimmed to [0.01, 0.99] -------
## Same estimator as ipw_disparity(propensity = "logistic"): reference rows
## weighted e / (1 - e), rows with e outside [0.01, 0.99] dropped.
ps <- glm(I(groupe == "etranger") ~ part + zone, family = binomial, data = d,
          control = glm.control(epsilon = 1e-12, maxit = 100))
e <- fitted(ps)
keep <- e >= 0.01 & e <= 0.99
t1 <- keep & d$groupe == "etranger"
t0 <- keep & d$groupe == "local"
w0 <- e[t0] / (1 - e[t0])
mu1 <- mean(d$y[t1])
mu0 <- sum(w0 * d$y[t0]) / sum(w0)
ref$ipw <- list(rate_difference = mu1 - mu0, rate_compared = mu1, rate_reference_weighted = mu0,
                n = sum(keep), propensity_coefficients = named(coef(ps)))

ref$meta <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")))
writeLines(to_json(ref), out)
cat("written", out, "\n")
