## Reference values for the regression, survival and decomposition tests
## (allocation_analysis.stats.regression / survival / decomposition).
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_b.R
## Needs R >= 4 with the packages survival, sandwich and cmprsk.
## Writes tests/reference/r_reference_b.json and the data sets it uses
## (logit_data.csv, lung.csv, crr_data.csv, oaxaca_data.csv) so that the
## Python tests read exactly the same rows.

suppressPackageStartupMessages({
  library(survival)
  library(sandwich)
  library(cmprsk)
})

out_dir <- "tests/reference"

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
  if (length(x) == 1 && is.null(attr(x, "as_array"))) return(vals)
  paste0("[", paste(vals, collapse = ", "), "]")
}
arr <- function(x) { attr(x, "as_array") <- TRUE; x }
named <- function(x) { # named numeric vector -> JSON object
  l <- as.list(unname(x)); names(l) <- names(x); l
}

ref <- list()
z975 <- qnorm(0.975)

## --- 1. Logistic regression with a categorical control ----------------------
set.seed(20240501)
n <- 600
grp <- sample(c("francaise", "ue", "hors_ue"), n, replace = TRUE, prob = c(0.6, 0.15, 0.25))
zone <- sample(c("nord", "centre", "sud"), n, replace = TRUE)
revenu <- round(rnorm(n, 0, 1), 4)
commune <- sample(sprintf("c%02d", 1:25), n, replace = TRUE)
ceff <- rnorm(25, 0, 0.5)[as.integer(factor(commune))]
lp <- -0.4 + 0.5 * (grp == "hors_ue") + 0.2 * (grp == "ue") +
  0.3 * (zone == "sud") - 0.2 * (zone == "nord") + 0.6 * revenu + ceff
y <- rbinom(n, 1, plogis(lp))
logit_data <- data.frame(y = y, nationalite = grp, zone = zone, revenu = revenu, commune = commune)
write.csv(logit_data, file.path(out_dir, "logit_data.csv"), row.names = FALSE)

logit_ref <- function(cmp) {
  d <- subset(logit_data, nationalite %in% c("francaise", cmp))
  d$g <- as.integer(d$nationalite == cmp)
  d$zone <- factor(d$zone)          # levels sorted: centre (reference), nord, sud
  fit <- glm(y ~ g + zone + revenu, family = binomial, data = d)
  b <- coef(fit)[["g"]]
  se <- sqrt(vcov(fit)["g", "g"])
  vc <- vcovCL(fit, cluster = ~commune, type = "HC1")
  se_cl <- sqrt(vc["g", "g"])
  ## average marginal effect by hand: mean P(g=1) - mean P(g=0), delta-method SE
  X <- model.matrix(fit)
  X1 <- X; X1[, "g"] <- 1
  X0 <- X; X0[, "g"] <- 0
  p1 <- plogis(drop(X1 %*% coef(fit)))
  p0 <- plogis(drop(X0 %*% coef(fit)))
  ame <- mean(p1 - p0)
  grad <- colMeans(p1 * (1 - p1) * X1) - colMeans(p0 * (1 - p0) * X0)
  ame_se <- sqrt(drop(t(grad) %*% vcov(fit) %*% grad))
  ame_se_cl <- sqrt(drop(t(grad) %*% vc %*% grad))
  ## VIF by hand: regress each non-intercept column on the others
  Xn <- X[, -1]
  vif <- sapply(colnames(Xn), function(j) {
    r2 <- summary(lm(Xn[, j] ~ Xn[, colnames(Xn) != j]))$r.squared
    1 / (1 - r2)
  })
  list(
    n = nrow(d), coef = b, se = se, odds_ratio = exp(b),
    ci_low = exp(b - z975 * se), ci_high = exp(b + z975 * se),
    z = b / se, p_value = 2 * pnorm(-abs(b / se)),
    se_cluster = se_cl, ci_low_cluster = exp(b - z975 * se_cl), ci_high_cluster = exp(b + z975 * se_cl),
    p_value_cluster = 2 * pnorm(-abs(b / se_cl)),
    ame = ame, ame_se = ame_se, ame_se_cluster = ame_se_cl,
    coefficients = named(coef(fit)), vif = named(vif)
  )
}
ref$logit <- list(hors_ue = logit_ref("hors_ue"), ue = logit_ref("ue"))

## --- 2. Survival on survival::lung -----------------------------------------
set.seed(7)
lung2 <- data.frame(
  time = lung$time, event = as.integer(lung$status == 2),
  sexe = ifelse(lung$sex == 1, "homme", "femme"),
  age = lung$age, ecog = lung$ph.ecog, inst = lung$inst
)
## a synthetic delayed entry (counting-process start) for the left-truncation check
lung2$entree <- floor(lung2$time * runif(nrow(lung2), 0, 0.6))
write.csv(lung2, file.path(out_dir, "lung.csv"), row.names = FALSE, na = "")

sd_summary <- function(sd) {
  list(chisq = sd$chisq, df = length(sd$n) - 1,
       p_value = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
       observed = named(setNames(as.numeric(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs), names(sd$n))),
       expected = named(setNames(as.numeric(if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp), names(sd$n))))
}
lung_e <- subset(lung2, !is.na(ecog))
ref$logrank <- list(
  sex = sd_summary(survdiff(Surv(time, event) ~ sexe, data = lung2)),
  ecog = sd_summary(survdiff(Surv(time, event) ~ ecog, data = lung_e)),
  sex_strata_ecog = sd_summary(survdiff(Surv(time, event) ~ sexe + strata(ecog), data = lung_e))
)

km <- survfit(Surv(time, event) ~ sexe, data = lung2, conf.type = "log-log")
tab <- summary(km)$table
km_times <- c(100, 200, 300, 500, 700)
skm <- summary(km, times = km_times, extend = TRUE)
km_ref <- list(times = arr(km_times))
for (s in c("femme", "homme")) {
  row <- paste0("sexe=", s)
  sel <- skm$strata == row
  km_ref[[s]] <- list(
    median = tab[row, "median"], median_low = tab[row, "0.95LCL"], median_high = tab[row, "0.95UCL"],
    surv = arr(skm$surv[sel]), lower = arr(skm$lower[sel]), upper = arr(skm$upper[sel]),
    n_risk = arr(skm$n.risk[sel])
  )
}
ref$kaplan_meier <- km_ref

cox_summary <- function(fit, zph = TRUE) {
  b <- coef(fit)[["sexefemme"]]
  se <- sqrt(vcov(fit)["sexefemme", "sexefemme"])
  r <- list(coef = b, se = se, hazard_ratio = exp(b),
            ci_low = exp(b - z975 * se), ci_high = exp(b + z975 * se),
            p_value = 2 * pnorm(-abs(b / se)), coefficients = named(coef(fit)),
            n = fit$n, nevent = fit$nevent)
  if (zph) {
    z <- cox.zph(fit, transform = "km", terms = FALSE)
    r$zph_chisq <- named(z$table[, "chisq"])
    r$zph_p <- named(z$table[, "p"])
  }
  r
}
lung_s <- lung2
lung_s$sexe <- factor(lung_s$sexe, levels = c("homme", "femme"))
lung_es <- subset(lung_s, !is.na(ecog))
lung_is <- subset(lung_s, !is.na(inst))
ref$cox <- list(
  plain = cox_summary(coxph(Surv(time, event) ~ sexe + age, data = lung_s, ties = "efron")),
  strata = cox_summary(coxph(Surv(time, event) ~ sexe + age + strata(ecog), data = lung_es, ties = "efron")),
  cluster = cox_summary(coxph(Surv(time, event) ~ sexe + age, data = lung_is, ties = "efron",
                              cluster = inst), zph = FALSE),
  entry = cox_summary(coxph(Surv(entree, time, event) ~ sexe + age, data = lung_s, ties = "efron"))
)

## --- 3. Competing risks (cmprsk::cuminc) -------------------------------------
set.seed(99)
m <- 240
g <- sample(c("francaise", "hors_ue"), m, replace = TRUE)
t1 <- rexp(m, ifelse(g == "hors_ue", 1 / 500, 1 / 350))   # allocation
t2 <- rexp(m, 1 / 900)                                       # other closing
cens <- runif(m, 100, 1200)
tt <- pmin(t1, t2, cens)
st <- ifelse(tt == cens, 0L, ifelse(tt == t1, 1L, 2L))
crr_data <- data.frame(duree = ceiling(tt / 10) * 10, evenement = st, nationalite = g)   # ties on purpose
write.csv(crr_data, file.path(out_dir, "crr_data.csv"), row.names = FALSE)
ci <- cuminc(crr_data$duree, crr_data$evenement, crr_data$nationalite, cencode = 0)
cif_times <- c(100, 250, 400, 600, 900)
tp <- timepoints(ci, cif_times)
cr_ref <- list(times = arr(cif_times))
for (s in c("francaise", "hors_ue")) {
  cr_ref[[s]] <- list(cif = arr(tp$est[paste(s, 1), ]), var = arr(tp$var[paste(s, 1), ]),
                      cif_competing = arr(tp$est[paste(s, 2), ]))
}
cr_ref$gray <- list(statistic = ci$Tests["1", "stat"], p_value = ci$Tests["1", "pv"], df = ci$Tests["1", "df"])
ref$cumulative_incidence <- cr_ref

## --- 4. Oaxaca-Blinder twofold / threefold with lm ---------------------------
set.seed(3)
k <- 400
og <- sample(c("francaise", "hors_ue"), k, replace = TRUE, prob = c(0.55, 0.45))
x1 <- round(rnorm(k, ifelse(og == "hors_ue", 1, 0), 1), 4)
x2 <- rbinom(k, 1, ifelse(og == "hors_ue", 0.6, 0.3))
yy <- round(10 + ifelse(og == "hors_ue", 2 + 1.5 * x1 + 0.5 * x2, 1 * x1 + 2 * x2) + rnorm(k), 4)
ob <- data.frame(loyer = yy, nationalite = og, x1 = x1, x2 = x2)
write.csv(ob, file.path(out_dir, "oaxaca_data.csv"), row.names = FALSE)
dr <- subset(ob, nationalite == "francaise"); dc <- subset(ob, nationalite == "hors_ue")
br <- coef(lm(loyer ~ x1 + x2, data = dr)); bc <- coef(lm(loyer ~ x1 + x2, data = dc))
bp <- coef(lm(loyer ~ x1 + x2 + I(nationalite == "hors_ue"), data = ob))[1:3]
mr <- c(1, colMeans(dr[, c("x1", "x2")])); mc <- c(1, colMeans(dc[, c("x1", "x2")]))
gap <- mean(dc$loyer) - mean(dr$loyer)
twofold <- function(bs) {
  list(gap = gap, explained = sum((mc - mr) * bs),
       unexplained = sum(mc * (bc - bs)) + sum(mr * (bs - br)),
       explained_by = named(((mc - mr) * bs)[-1]))
}
ref$oaxaca <- list(
  pooled = twofold(bp), reference = twofold(br), compared = twofold(bc),
  threefold = list(gap = gap, endowments = sum((mc - mr) * br), coefficients = sum(mr * (bc - br)),
                   interaction = sum((mc - mr) * (bc - br)))
)

ref$meta <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
                 sandwich = as.character(packageVersion("sandwich")),
                 cmprsk = as.character(packageVersion("cmprsk")))
writeLines(to_json(ref), file.path(out_dir, "r_reference_b.json"))
cat("written", file.path(out_dir, "r_reference_b.json"), "\n")
