## Reference values for the few-clusters reference distribution of
## allocation_analysis.stats.regression.logit_disparity(cluster = ) and
## allocation_analysis.stats.survival.cox(cluster = ): cluster-robust
## standard errors referred to Student's t with G - 1 degrees of freedom
## (Cameron & Miller 2015, section VI.C).
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_few_clusters.R
## Needs R >= 4 with the packages survival, sandwich and jsonlite (Debian
## r-cran-*); lmtest is not used: t statistics, p-values and intervals are
## computed by hand from the coefficient and its robust standard error.
## Writes tests/reference/r_reference_few_clusters.json and the data set it
## uses (few_clusters_data.csv) so that the Python tests read exactly the
## same rows.
##
## Data: 12 clusters (communes) of unequal sizes, a group whose share varies
## by cluster, a continuous control, a cluster random effect on both the
## binary outcome and the hazard (outcomes correlated within clusters),
## exponential times with uniform censoring. Both fits are run to tight
## convergence tolerances so that the reference is exact to about 1e-9.

suppressPackageStartupMessages({
  library(survival)
  library(sandwich)
  library(jsonlite)
})

out_dir <- "tests/reference"

set.seed(20261202)
G <- 12
sizes <- sample(30:90, G, replace = TRUE)
cl <- rep(sprintf("c%02d", seq_len(G)), times = sizes)
n <- length(cl)
ci <- rep(seq_len(G), times = sizes)
share <- runif(G, 0.15, 0.6)[ci]
u <- rnorm(G, sd = 0.7)[ci]
g <- ifelse(runif(n) < share, "b", "a")
x <- round(rnorm(n), 6)
eta <- -0.4 + 0.35 * (g == "b") + 0.5 * x + u
y <- as.integer(runif(n) < plogis(eta))
rate <- exp(-5 + 0.3 * (g == "b") + 0.4 * x + 0.8 * u)
t_ev <- ceiling(rexp(n, rate))
t_c <- ceiling(runif(n, 20, 400))
time <- pmin(t_ev, t_c)
event <- as.integer(t_ev <= t_c)
d <- data.frame(cl = cl, g = g, x = x, y = y, time = time, event = event)
write.csv(d, file.path(out_dir, "few_clusters_data.csv"), row.names = FALSE)

d$g <- factor(d$g, levels = c("a", "b"))
df_ref <- G - 1
q <- qt(0.975, df_ref)

wald_t <- function(b, se) {
  t <- b / se
  list(
    coef = b, se = se, t = t, df = df_ref,
    p_value = 2 * pt(-abs(t), df = df_ref),
    p_value_normal = 2 * pnorm(-abs(t)),
    ci_low = b - q * se, ci_high = b + q * se,
    estimate = exp(b), ci_low_exp = exp(b - q * se), ci_high_exp = exp(b + q * se)
  )
}

## --- logistic model, sandwich::vcovCL HC1 -----------------------------------
fit <- glm(y ~ g + x, family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
vc <- vcovCL(fit, cluster = ~cl, type = "HC1")
b <- unname(coef(fit)["gb"])
se <- unname(sqrt(diag(vc))["gb"])
logit <- wald_t(b, se)
## average marginal effect of the group and its delta-method SE (cluster variance)
X <- model.matrix(fit)
X1 <- X; X1[, "gb"] <- 1
X0 <- X; X0[, "gb"] <- 0
p1 <- plogis(drop(X1 %*% coef(fit)))
p0 <- plogis(drop(X0 %*% coef(fit)))
ame <- mean(p1 - p0)
grad <- colMeans(X1 * (p1 * (1 - p1))) - colMeans(X0 * (p0 * (1 - p0)))
ame_se <- sqrt(drop(t(grad) %*% vc %*% grad))
logit$ame <- ame
logit$ame_se <- ame_se
logit$ame_ci_low <- ame - q * ame_se
logit$ame_ci_high <- ame + q * ame_se
logit$n <- nrow(d)

## --- Cox model (Efron), robust variance by cluster --------------------------
cfit <- coxph(Surv(time, event) ~ g + x, data = d, ties = "efron", cluster = cl,
              control = coxph.control(eps = 1e-10, iter.max = 100))
cb <- unname(coef(cfit)["gb"])
cse <- unname(sqrt(diag(vcov(cfit)))["gb"])  # robust (Lin-Wei) variance
coxr <- wald_t(cb, cse)
coxr$n <- cfit$n
coxr$nevent <- cfit$nevent

ref <- list(
  R_version = R.version.string,
  sandwich_version = as.character(packageVersion("sandwich")),
  survival_version = as.character(packageVersion("survival")),
  n_clusters = G,
  df_reference = df_ref,
  logit = logit,
  cox = coxr
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "r_reference_few_clusters.json"))
