# Reference values for the statistical tests of part A (rates, CMH,
# Breslow-Day, multiple testing, power), computed with base R.
#
# Usage: Rscript tests/reference/make_reference_a.R tests/reference/r_reference_a.json
#
# Only base R (stats, datasets) is used. JSON is written by hand with
# sprintf("%.17g") so that no extra package is needed.
#
# Orientation of every 2x2 table: rows = [compared, reference],
# columns = [outcome yes, outcome no]; the Python tests use the same tables.

args <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(args) >= 1) args[1] else "r_reference_a.json"

# ---- minimal JSON writer -------------------------------------------------
num <- function(x) {
  x <- as.numeric(x)
  s <- ifelse(is.na(x), "null",
              ifelse(is.infinite(x), ifelse(x > 0, "\"Infinity\"", "\"-Infinity\""),
                     sprintf("%.17g", x)))
  if (length(s) == 1) s else paste0("[", paste(s, collapse = ", "), "]")
}
vec <- function(x) paste0("[", paste(sapply(as.numeric(x), num), collapse = ", "), "]")
str_ <- function(x) paste0("\"", gsub("\"", "\\\\\"", x), "\"")
obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(sprintf("%s: %s", sapply(names(kv), str_), unlist(kv)), collapse = ", "), "}")
}
arr <- function(items) paste0("[\n  ", paste(items, collapse = ",\n  "), "\n]")
# a (K, 2, 2) array as nested JSON lists [[[a, b], [c, d]], ...]
tables_json <- function(x) {
  K <- dim(x)[3]
  paste0("[", paste(sapply(seq_len(K), function(k)
    sprintf("[[%s, %s], [%s, %s]]", num(x[1, 1, k]), num(x[1, 2, k]),
            num(x[2, 1, k]), num(x[2, 2, k]))), collapse = ", "), "]")
}

# ---- 1. two-sample rates: prop.test, fisher.test, Wilson, Newcombe --------
# Wilson interval (score interval without continuity correction) of one sample:
wilson <- function(x, n, conf = 0.95) {
  if (n == 0) return(c(NA, NA))
  prop.test(x, n, correct = FALSE, conf.level = conf)$conf.int[1:2]
}
# Newcombe (1998) method 10: hybrid score interval of p1 - p2
newcombe <- function(x1, n1, x2, n2, conf = 0.95) {
  p1 <- x1 / n1; p2 <- x2 / n2
  w1 <- wilson(x1, n1, conf); w2 <- wilson(x2, n2, conf)
  d <- p1 - p2
  c(d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2),
    d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2))
}

rate_cases <- list(
  # x_compared, n_compared, x_reference, n_reference
  c(56, 70, 48, 80),     # Newcombe (1998), Table II example (a)
  c(9, 10, 3, 10),       # Newcombe (1998) example (b)
  c(120, 400, 150, 420),
  c(3, 25, 10, 30),      # small expected cells
  c(0, 12, 5, 40)        # zero events in the compared group
)
rate_items <- sapply(rate_cases, function(v) {
  x1 <- v[1]; n1 <- v[2]; x2 <- v[3]; n2 <- v[4]
  m <- matrix(c(x1, n1 - x1, x2, n2 - x2), nrow = 2, byrow = TRUE)
  pt0 <- suppressWarnings(prop.test(c(x1, x2), c(n1, n2), correct = FALSE))
  pt1 <- suppressWarnings(prop.test(c(x1, x2), c(n1, n2), correct = TRUE))
  ft <- fisher.test(m)
  ex <- suppressWarnings(chisq.test(m, correct = FALSE)$expected)
  obj(x_compared = num(x1), n_compared = num(n1), x_reference = num(x2), n_reference = num(n2),
      chisq = num(unname(pt0$statistic)), p_value = num(pt0$p.value),
      chisq_corrected = num(unname(pt1$statistic)), p_value_corrected = num(pt1$p.value),
      fisher_p_value = num(ft$p.value), min_expected = num(min(ex)),
      wilson_compared = vec(wilson(x1, n1)), wilson_reference = vec(wilson(x2, n2)),
      newcombe = vec(newcombe(x1, n1, x2, n2)))
})

# ---- 2. Cochran-Mantel-Haenszel and Breslow-Day ----------------------------
# Breslow-Day statistic with Tarone's correction, from the definitions
# (Breslow & Day 1980, eq. 4.30; Tarone 1985). The expected cell of each
# stratum under the common odds ratio psi is found with uniroot on
# a (N - n1 - m1 + a) - psi (n1 - a)(m1 - a) = 0.
breslow_day <- function(x, psi) {
  K <- dim(x)[3]
  dev <- numeric(K); v <- numeric(K)
  for (k in seq_len(K)) {
    t <- x[, , k]
    a <- t[1, 1]; n1 <- sum(t[1, ]); m1 <- sum(t[, 1]); N <- sum(t)
    lo <- max(0, n1 + m1 - N); hi <- min(n1, m1)
    f <- function(e) e * (N - n1 - m1 + e) - psi * (n1 - e) * (m1 - e)
    e <- uniroot(f, c(lo, hi), tol = 1e-14)$root
    dev[k] <- a - e
    v[k] <- 1 / (1 / e + 1 / (n1 - e) + 1 / (m1 - e) + 1 / (N - n1 - m1 + e))
  }
  bd <- sum(dev^2 / v)
  tarone <- bd - sum(dev)^2 / sum(v)
  c(statistic = tarone, statistic_uncorrected = bd, df = K - 1,
    p_value = pchisq(tarone, K - 1, lower.tail = FALSE))
}
cmh_case <- function(name, x) {
  m1 <- mantelhaen.test(x, correct = TRUE)
  m0 <- mantelhaen.test(x, correct = FALSE)
  bd <- breslow_day(x, unname(m1$estimate))
  obj(name = str_(name), tables = tables_json(x),
      estimate = num(unname(m1$estimate)), conf_int = vec(m1$conf.int),
      statistic_corrected = num(unname(m1$statistic)), p_value_corrected = num(m1$p.value),
      statistic = num(unname(m0$statistic)), p_value = num(m0$p.value),
      breslow_day = obj(statistic = num(bd["statistic"]),
                        statistic_uncorrected = num(bd["statistic_uncorrected"]),
                        df = num(bd["df"]), p_value = num(bd["p_value"])))
}
# UCBAdmissions is Admit x Gender x Dept; rows become Gender (Female = compared,
# Male = reference), columns Admit (Admitted = yes, Rejected = no).
ucb <- aperm(UCBAdmissions[, c("Female", "Male"), ], c(2, 1, 3))
# strata given row by row: [[a, b], [c, d]] is written a, b, c, d below
zero <- aperm(array(c(0, 5, 3, 4,  2, 0, 6, 9,  7, 3, 0, 8,  4, 6, 5, 2), dim = c(2, 2, 4)),
              c(2, 1, 3))
or_one <- aperm(array(c(10, 20, 20, 10,  20, 10, 10, 20,  15, 15, 15, 15), dim = c(2, 2, 3)),
                c(2, 1, 3))
stopifnot(mantelhaen.test(or_one)$estimate == 1)
cmh_items <- c(cmh_case("UCBAdmissions", ucb), cmh_case("zero_cells", zero),
               cmh_case("or_exactly_one", or_one))

# ---- 3. p.adjust with NA ----------------------------------------------------
p_in <- c(0.01, NA, 0.04, 0.03, 0.2, NA, 0.005, 0.04, 0.9)
padj <- obj(p = vec(p_in), fdr_bh = vec(p.adjust(p_in, "BH")), holm = vec(p.adjust(p_in, "holm")))

# ---- 4. power.prop.test ----------------------------------------------------
power_cases <- list(c(100, 0.3, 0.45, 0.05), c(250, 0.5, 0.4, 0.05), c(1000, 0.1, 0.13, 0.01),
                    c(40, 0.6, 0.9, 0.05))
power_items <- sapply(power_cases, function(v) {
  obj(n = num(v[1]), p1 = num(v[2]), p2 = num(v[3]), alpha = num(v[4]),
      power = num(power.prop.test(n = v[1], p1 = v[2], p2 = v[3], sig.level = v[4])$power))
})
# minimum detectable p2 (> p1) at given n and power: power.prop.test solving for p2
mde_cases <- list(c(200, 0.3, 0.8, 0.05), c(1500, 0.1, 0.9, 0.05), c(60, 0.5, 0.8, 0.05))
mde_items <- sapply(mde_cases, function(v) {
  r <- power.prop.test(n = v[1], p1 = v[2], power = v[3], sig.level = v[4], tol = 1e-12)
  obj(n = num(v[1]), p1 = num(v[2]), power = num(v[3]), alpha = num(v[4]), p2 = num(r$p2))
})

json <- paste0("{\n",
  "\"generated_by\": ", str_(paste("make_reference_a.R,", R.version.string)), ",\n",
  "\"rates\": ", arr(rate_items), ",\n",
  "\"cmh\": ", arr(cmh_items), ",\n",
  "\"p_adjust\": ", padj, ",\n",
  "\"power\": ", arr(power_items), ",\n",
  "\"mde\": ", arr(mde_items), "\n}\n")
writeLines(json, out_file)
