# Reference values for tests/test_indicators.py (Wilson interval, exact binomial test).
# Run: Rscript tests/reference/make_reference_indicators.R
cases <- list(c(331, 1641, 0.25), c(3, 12, 0.25), c(0, 15, 0.25), c(7, 10, 0.5),
              c(15, 20, 0.5), c(2, 4, 0.25), c(40, 200, 0.25), c(120, 400, 0.25))
options(digits = 15)
for (cs in cases) {
  x <- cs[1]; n <- cs[2]; p <- cs[3]
  ci <- prop.test(x, n, correct = FALSE)$conf.int
  pv <- binom.test(x, n, p = p)$p.value
  cat(sprintf("(%d, %d, %.2f, %.15g, %.15g, %.15g),\n", x, n, p, ci[1], ci[2], pv))
}
