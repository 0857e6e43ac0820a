## Reference values for the waiting-time estimators with delayed entry
## (left truncation): allocation_analysis.stats.survival.logrank,
## kaplan_meier and cumulative_incidence with `entry`.
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_delayed_entry.R
## Needs R >= 4 with the packages survival and jsonlite (Debian r-cran-*).
## Writes tests/reference/r_reference_delayed_entry.json and the data sets it
## uses (left_truncated.csv, mgus_age.csv) so that the Python tests read
## exactly the same rows.
##
## Two data sets:
## * left_truncated: a semester-like frame generated here (set.seed): demands
##   filed over four years, observed from the start of the analysed window
##   (entry = days from filing to the window start minus one, as the
##   toolkit's `entree_risque_jours`), whole-day times with ties, three groups
##   that differ in filing dates, two strata, allocation (1) and other
##   closings (2) as competing events;
## * mgus_age: R's real survival::mgus2 on the age scale (entry = age at
##   diagnosis of the monoclonal gammopathy, exit = age at progression, death
##   or last contact, in months), a classic left-truncated data set; events
##   progression (1) and death (2), groups by sex.
##
## The log-rank test with delayed entry is the score test of the Cox model
## on counting-process data with the exact (discrete) partial likelihood,
## `coxph(..., ties = "exact")`: its score at beta = 0 is observed minus
## expected and its information the hypergeometric variance of the
## Mantel-Haenszel log-rank (survdiff), which `survdiff` itself cannot compute
## on (start, stop] data. Without truncation both agree (checked below).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_dir <- "tests/reference"

## --- data set 1: a left-truncated frame ------------------------------------
set.seed(20261202)
n <- 900
g <- sample(c("a", "b", "c"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
s <- sample(c("t1", "t2"), n, replace = TRUE)
## group b filed more recently: the frame's truncation differs by group
filed <- ifelse(g == "b", -round(runif(n, 0, 500)), -round(runif(n, 0, 1400)))
## equal hazards in a and b, a higher one in c, per-stratum baseline
rate1 <- ifelse(s == "t1", 1 / 700, 1 / 1100) * ifelse(g == "c", 1.6, 1)
rate2 <- 1 / 1500
t1 <- ceiling(rexp(n, rate1))
t2 <- ceiling(rexp(n, rate2))
tt <- pmin(t1, t2)
status <- ifelse(t1 <= t2, 1L, 2L)
window_start <- 0
window_end <- 181
days_to_start <- window_start - filed            # >= 0
end_time <- window_end - filed                   # censoring at the window end
## left truncation: only demands still waiting at the window start are seen
seen <- tt >= days_to_start
time <- pmin(tt, end_time)
status <- ifelse(tt <= end_time, status, 0L)
lt <- data.frame(
  entry = days_to_start - 1L, time = time, status = status, g = g, s = s
)[seen, ]
## a few demands filed inside the window (entry -1), as in the toolkit
inside <- data.frame(
  entry = -1L, time = sample(0:181, 40, replace = TRUE),
  status = sample(0:2, 40, replace = TRUE, prob = c(0.8, 0.15, 0.05)),
  g = sample(c("a", "b", "c"), 40, replace = TRUE), s = sample(c("t1", "t2"), 40, replace = TRUE)
)
lt <- rbind(lt, inside)
lt <- lt[order(lt$g, lt$time), ]
rownames(lt) <- NULL
lt$id <- seq_len(nrow(lt))
write.csv(lt[, c("entry", "time", "status", "g", "s")], file.path(out_dir, "left_truncated.csv"), row.names = FALSE)

## --- data set 2: mgus2 on the age scale (real data) -------------------------
m <- survival::mgus2
ms <- data.frame(
  entry = m$age * 12,
  etime = ifelse(m$pstat == 1, m$ptime, m$futime),
  event = ifelse(m$pstat == 1, 1L, 2L * m$death)
)
ms$time <- ms$entry + ms$etime
ms$sexe <- ifelse(m$sex == "F", "femme", "homme")
ms <- ms[ms$time > ms$entry, c("entry", "time", "event", "sexe")]
rownames(ms) <- NULL
ms$id <- seq_len(nrow(ms))
write.csv(ms[, c("entry", "time", "event", "sexe")], file.path(out_dir, "mgus_age.csv"), row.names = FALSE)

## --- helpers -----------------------------------------------------------------
km_ref <- function(fit) {
  sm <- summary(fit, censored = TRUE)
  strata <- sub("^[^=]*=", "", as.character(sm$strata))
  tab <- summary(fit)$table
  rn <- sub("^[^=]*=", "", rownames(tab))
  curves <- lapply(split(seq_along(strata), strata), function(i) list(
    time = sm$time[i], n_risk = sm$n.risk[i], n_event = sm$n.event[i],
    surv = sm$surv[i], std_err_log = sm$std.err[i] / sm$surv[i],
    lower = sm$lower[i], upper = sm$upper[i]
  ))
  medians <- lapply(seq_along(rn), function(i) list(
    median = unname(tab[i, "median"]),
    median_low = unname(tab[i, "0.95LCL"]),
    median_high = unname(tab[i, "0.95UCL"])
  ))
  names(medians) <- rn
  list(curves = curves, medians = medians)
}
score_ref <- function(fit) {
  list(chisq = unname(fit$score), df = length(fit$coefficients),
       p_value = pchisq(unname(fit$score), length(fit$coefficients), lower.tail = FALSE))
}
lr_formula <- function(strata) {
  if (strata) Surv(entry, time, status == 1) ~ g + strata(s) else Surv(entry, time, status == 1) ~ g
}
cif_ref <- function(fit, state, times) {
  ## multi-state survfit: Aalen-Johansen probability of being in `state`
  strata <- sub("^[^=]*=", "", rep(names(fit$strata), fit$strata))
  j <- match(state, fit$states)
  out <- lapply(split(seq_along(strata), strata), function(i) list(
    time = fit$time[i], cif = fit$pstate[i, j], std_err = fit$std.err[i, j]
  ))
  sm <- summary(fit, times = times, extend = TRUE)
  st <- sub("^[^=]*=", "", as.character(sm$strata))
  at <- lapply(split(seq_along(st), st), function(i) list(
    time = sm$time[i], cif = sm$pstate[i, j]
  ))
  list(curves = out, at_times = at)
}

## --- values --------------------------------------------------------------------
ref <- list()
## log-rank = exact-likelihood score test on counting-process data
ref$logrank_lt <- score_ref(coxph(lr_formula(FALSE), data = lt, ties = "exact"))
ref$logrank_lt_strata <- score_ref(coxph(lr_formula(TRUE), data = lt, ties = "exact"))
ref$logrank_lt_ab <- score_ref(coxph(lr_formula(FALSE), data = subset(lt, g != "c"),
                                     ties = "exact"))
## without truncation: survdiff and the exact score test agree
lt0 <- transform(lt, entry = -1L)
sd0 <- survdiff(Surv(time, status == 1) ~ g, data = lt0)
ref$logrank_no_entry <- list(
  survdiff_chisq = sd0$chisq,
  exact_score = unname(coxph(Surv(entry, time, status == 1) ~ g, data = lt0,
                             ties = "exact")$score),
  observed = setNames(as.list(sd0$obs), sub("^[^=]*=", "", names(sd0$n))),
  expected = setNames(as.list(sd0$exp), sub("^[^=]*=", "", names(sd0$n)))
)
## what ignoring the truncation gives on the same rows (the defect)
ref$logrank_lt_ignoring_entry <- list(
  chisq = survdiff(Surv(time, status == 1) ~ g, data = lt)$chisq
)
ref$logrank_mgus <- score_ref(coxph(Surv(entry, time, event == 1) ~ sexe, data = ms,
                                    ties = "exact"))
## Kaplan-Meier with delayed entry, log-log limits
ref$km_lt <- km_ref(survfit(Surv(entry, time, status == 1) ~ g, data = lt,
                            conf.type = "log-log"))
ref$km_mgus <- km_ref(survfit(Surv(entry, time, event == 2) ~ sexe, data = ms,
                              conf.type = "log-log"))
## cumulative incidence (Aalen-Johansen) with delayed entry
times_lt <- c(30, 90, 181, 400, 5000)
ref$cif_lt <- cif_ref(survfit(Surv(entry, time, factor(status, 0:2)) ~ g, data = lt, id = id),
                      "1", times_lt)
ref$cif_lt$times <- times_lt
times_ms <- c(900, 960, 1020)
ref$cif_mgus <- cif_ref(survfit(Surv(entry, time, factor(event, 0:2)) ~ sexe, data = ms, id = id),
                        "1", times_ms)
ref$cif_mgus$times <- times_ms
ref$r_version <- R.version.string
ref$survival_version <- as.character(packageVersion("survival"))

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out_dir, "r_reference_delayed_entry.json"))
