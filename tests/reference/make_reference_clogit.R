## Reference values for
## allocation_analysis.stats.conditional.conditional_logit_disparity:
## conditional logistic regression with the exact conditional likelihood,
## survival::clogit(..., method = "exact").
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_clogit.R
## Needs R >= 4 with the packages survival and jsonlite (Debian r-cran-*).
## Writes tests/reference/clogit_data.csv (the data set, so that the Python
## tests read exactly the same rows) and tests/reference/r_reference_clogit.json.
##
## Data: 300 offers (id_offre), each with 1 to 5 candidates; a binary group
## (groupe: "francaise" reference, "etrangere" compared), a numeric control
## (anciennete, years of waiting, 2 decimals) and a categorical control
## (composition: "couple" reference, "famille", "seul"). The outcome y
## (attribution) is Bernoulli(plogis(a_s - 0.6 [etrangere] + 0.25 anciennete
## + 0.5 [famille] - 0.3 [seul])) with an offer effect a_s ~ N(-0.8, 1), so
## the number of successes per offer varies (0 to 5): strata of one candidate,
## strata without any or with only successes and strata with a single group
## are present (uninformative for the group). A second, small data set with
## large strata (20 to 50 candidates, up to 25 successes) checks the
## numerical stability of the recursion; it is stored inside the JSON.
##
## Every fit is run to a tight tolerance (eps 1e-11) so that the reference is
## exact to about 1e-9. Reported: coefficients, standard errors, Wald z, CI
## and p-values, log-likelihoods, the global score test (summary()$sctest)
## and the score test of the group adjusted for the controls: the score
## statistic U' I^-1 U of the full model at (b_group = 0, controls at their
## constrained maximum), i.e. fit$score of a fit started there with no
## iteration. Without controls, the score test equals the Mantel-Haenszel
## statistic without continuity correction, also reported (2x2 tables oriented
## as in the library: rows = [compared, reference], columns = [y = 1, y = 0]).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_dir <- "tests/reference"
z975 <- qnorm(0.975)
ctl <- coxph.control(eps = 1e-11, iter.max = 100)

## --- data ------------------------------------------------------------------
set.seed(20260314)
S <- 300
sizes <- sample(1:5, S, replace = TRUE, prob = c(0.12, 0.22, 0.28, 0.23, 0.15))
id <- rep(sprintf("o%03d", seq_len(S)), times = sizes)
si <- rep(seq_len(S), times = sizes)
n <- length(id)
a_s <- rnorm(S, mean = -0.8, sd = 1)[si]
groupe <- ifelse(runif(n) < 0.35, "etrangere", "francaise")
anciennete <- round(rgamma(n, shape = 2, rate = 0.6), 2)
composition <- sample(c("couple", "famille", "seul"), n, replace = TRUE, prob = c(0.3, 0.4, 0.3))
eta <- a_s - 0.6 * (groupe == "etrangere") + 0.25 * anciennete +
  0.5 * (composition == "famille") - 0.3 * (composition == "seul")
y <- as.integer(runif(n) < plogis(eta))
d <- data.frame(id_offre = id, groupe = groupe, anciennete = anciennete,
                composition = composition, y = y)
write.csv(d, file.path(out_dir, "clogit_data.csv"), row.names = FALSE)

d$groupe <- factor(d$groupe, levels = c("francaise", "etrangere"))
d$composition <- factor(d$composition, levels = c("couple", "famille", "seul"))
d$anciennete_c <- d$anciennete / 100 # rescaled control (centuries)

## --- summaries ---------------------------------------------------------------
strata_counts <- function(d) {
  m <- tapply(d$y, d$id_offre, sum)
  k <- tapply(d$y, d$id_offre, length)
  ng <- tapply(d$groupe == "etrangere", d$id_offre, sum)
  var_y <- m > 0 & m < k
  var_g <- ng > 0 & ng < k
  list(
    n_rows = nrow(d), n_strata = length(k),
    n_strata_outcome_varies = sum(var_y),
    n_strata_informative = sum(var_y & var_g),
    n_rows_outcome_varies = sum(k[var_y]),
    n_strata_size_1 = sum(k == 1)
  )
}

named <- function(x) as.list(x)

fit_summary <- function(fit, term = "groupeetrangere") {
  b <- coef(fit)
  se <- sqrt(diag(vcov(fit)))
  s <- summary(fit)
  wald <- drop(t(b) %*% solve(vcov(fit), b)) # summary() rounds it to 2 decimals
  list(
    n = fit$n, n_events = fit$nevent,
    coef = b[[term]], se = se[[term]], z = b[[term]] / se[[term]],
    odds_ratio = exp(b[[term]]),
    ci_low = exp(b[[term]] - z975 * se[[term]]),
    ci_high = exp(b[[term]] + z975 * se[[term]]),
    p_value = 2 * pnorm(-abs(b[[term]] / se[[term]])),
    coefficients = named(b), std_errors = named(se),
    loglik_null = fit$loglik[1], loglik = fit$loglik[2],
    iterations = fit$iter,
    score_global = list(statistic = unname(s$sctest["test"]), df = unname(s$sctest["df"]),
                        p_value = unname(s$sctest["pvalue"])),
    wald_global = list(statistic = wald, df = length(b),
                       p_value = pchisq(wald, length(b), lower.tail = FALSE)),
    lr_global = list(statistic = unname(s$logtest["test"]), df = unname(s$logtest["df"]),
                     p_value = unname(s$logtest["pvalue"]))
  )
}

## score test of the group adjusted for the controls (Rao): U' I^-1 U of the
## full model at b_group = 0 and the controls at the maximum of the model
## without the group
score_group <- function(f_full, f_null, data) {
  init <- c(0, coef(f_null))
  f0 <- suppressWarnings(clogit(f_full, data = data, method = "exact", init = init,
                                control = coxph.control(iter.max = 0)))
  stopifnot(abs(f0$loglik[2] - f_null$loglik[2]) < 1e-8) # evaluated at the constrained fit
  list(statistic = f0$score, df = 1, p_value = pchisq(f0$score, 1, lower.tail = FALSE),
       loglik_null_model = f_null$loglik[2])
}

ref <- list()
ref$meta <- list(r_version = R.version.string,
                 survival = as.character(packageVersion("survival")),
                 method = "clogit(method = 'exact'), coxph.control(eps = 1e-11)")
ref$data <- strata_counts(d)

## --- 1. group, numeric and categorical controls --------------------------------
f_full <- y ~ groupe + anciennete + composition + strata(id_offre)
fit <- clogit(f_full, data = d, method = "exact", control = ctl)
fit0 <- clogit(y ~ anciennete + composition + strata(id_offre), data = d,
               method = "exact", control = ctl)
ref$controls <- fit_summary(fit)
ref$controls$score_group <- score_group(f_full, fit0, d)

## --- 2. the same with the numeric control rescaled by 1/100 -------------------
f_c <- y ~ groupe + anciennete_c + composition + strata(id_offre)
fit_c <- clogit(f_c, data = d, method = "exact", control = ctl)
fit0_c <- clogit(y ~ anciennete_c + composition + strata(id_offre), data = d,
                 method = "exact", control = ctl)
ref$rescaled <- fit_summary(fit_c)
ref$rescaled$score_group <- score_group(f_c, fit0_c, d)

## --- 3. group only; score test = Mantel-Haenszel without correction -------------
fit_g <- clogit(y ~ groupe + strata(id_offre), data = d, method = "exact", control = ctl)
ref$group_only <- fit_summary(fit_g)
big <- d[ave(d$y, d$id_offre, FUN = length) > 1, ]
tab <- table(factor(big$groupe, levels = c("etrangere", "francaise")),
             factor(big$y, levels = c(1, 0)), big$id_offre)
mh <- mantelhaen.test(tab, correct = FALSE)
ref$group_only$mantel_haenszel <- list(statistic = unname(mh$statistic),
                                       p_value = mh$p.value,
                                       odds_ratio_mh = unname(mh$estimate))

## --- 4. large strata (20 to 50 candidates) --------------------------------------
set.seed(20260315)
SL <- 6
sizes_l <- c(20, 27, 33, 40, 46, 50)
idl <- rep(sprintf("L%d", seq_len(SL)), times = sizes_l)
nl <- length(idl)
gl <- ifelse(runif(nl) < 0.4, "etrangere", "francaise")
xl <- round(rnorm(nl, 5, 2), 2)
## number of successes fixed per stratum: 1, 3, 8, 12, 20, 25
m_l <- c(1, 3, 8, 12, 20, 25)
yl <- integer(nl)
for (s in seq_len(SL)) {
  rows <- which(idl == sprintf("L%d", s))
  w <- exp(-0.7 * (gl[rows] == "etrangere") + 0.4 * xl[rows])
  yl[sample(rows, m_l[s], prob = w)] <- 1L
}
dl <- data.frame(id_offre = idl, groupe = gl, x = xl, y = yl)
dlf <- dl
dlf$groupe <- factor(dlf$groupe, levels = c("francaise", "etrangere"))
fit_l <- clogit(y ~ groupe + x + strata(id_offre), data = dlf, method = "exact", control = ctl)
fit_l0 <- clogit(y ~ x + strata(id_offre), data = dlf, method = "exact", control = ctl)
ref$large_strata <- fit_summary(fit_l)
ref$large_strata$score_group <- score_group(y ~ groupe + x + strata(id_offre), fit_l0, dlf)
ref$large_strata$data <- as.list(dl)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "r_reference_clogit.json"))
cat("written", file.path(out_dir, "r_reference_clogit.json"), "\n")
