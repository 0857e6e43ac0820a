# Cox model with a control level that has no event (monotone partial likelihood).
# Deterministic data (no RNG): 120 demands, group a/b, housing situation
# x/y/z where no "z" demand is ever housed. R's coxph warns that the z
# coefficient may be infinite; the fit without the z rows gives the limiting
# estimates of the other coefficients.
# Usage: Rscript make_reference_cox_eventless.R out.json
library(survival)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "r_reference_cox_eventless.json"
i <- 0:119
d <- data.frame(
  time = 1 + (i * 37) %% 97,
  grp = ifelse(i %% 3 == 0, "b", "a"),
  sit = c("x", "y", "z")[1 + (i %/% 4) %% 3],
  age = 20 + (i * 13) %% 41
)
d$event <- as.integer(d$sit != "z" & ((i * 11) %% 5) < 3)
d$grp <- factor(d$grp, levels = c("a", "b"))
d$sit <- factor(d$sit, levels = c("x", "y", "z"))
full <- suppressWarnings(coxph(Surv(time, event) ~ grp + sit + age, data = d, ties = "efron"))
sub <- d[d$sit != "z", ]
sub$sit <- droplevels(sub$sit)
lim <- coxph(Surv(time, event) ~ grp + sit + age, data = sub, ties = "efron")
fmt <- function(x) formatC(x, digits = 17, format = "g")
js <- paste0(
  "{\n",
  '  "data": {"time": [', paste(d$time, collapse = ", "), "], ",
  '"event": [', paste(d$event, collapse = ", "), "], ",
  '"grp": [', paste0('"', d$grp, '"', collapse = ", "), "], ",
  '"sit": [', paste0('"', d$sit, '"', collapse = ", "), "], ",
  '"age": [', paste(d$age, collapse = ", "), "]},\n",
  '  "limit_fit": {"coef_grp": ', fmt(coef(lim)[["grpb"]]),
  ', "se_grp": ', fmt(sqrt(vcov(lim)[1, 1])),
  ', "coef_age": ', fmt(coef(lim)[["age"]]), ', "n": ', nrow(sub), "},\n",
  '  "full_fit": {"coef_grp": ', fmt(coef(full)[["grpb"]]),
  ', "coef_sitz": ', fmt(coef(full)[["sitz"]]), "},\n",
  '  "r_version": "', R.version.string, '", "survival_version": "',
  as.character(packageVersion("survival")), '"\n}\n'
)
writeLines(js, out)
