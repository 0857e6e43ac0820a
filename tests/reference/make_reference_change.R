## Reference values for allocation_analysis.change.share_change: change of a
## share between two semesters (the later one first), score test of equal
## proportions.
##
## Run from the repository root:
##   Rscript tests/reference/make_reference_change.R
## Needs base R (stats) and jsonlite. Writes tests/reference/r_reference_change.json.
##
## For each pair of semester counts (x1 events out of n1 in the later
## semester, x2 out of n2 in the earlier one): the difference x1/n1 - x2/n2
## and prop.test(c(x1, x2), c(n1, n2), correct = FALSE): the Pearson
## chi-square without continuity correction (the square of the pooled
## two-proportion z statistic) and its p-value.

suppressPackageStartupMessages(library(jsonlite))

out <- "tests/reference/r_reference_change.json"

pairs <- list(
  # a legal indicator of the territory: 25 % target, a few hundred leases
  list(x1 = 58, n1 = 212, x2 = 41, n2 = 230),
  # an access rate: a few thousand active demands, a small change
  list(x1 = 142, n1 = 1259, x2 = 130, n2 = 1302),
  # a commune: small counts, a fall
  list(x1 = 12, n1 = 61, x2 = 25, n2 = 70),
  # no change at all
  list(x1 = 30, n1 = 120, x2 = 30, n2 = 120)
)

res <- lapply(pairs, function(p) {
  t <- suppressWarnings(prop.test(c(p$x1, p$x2), c(p$n1, p$n2), correct = FALSE))
  list(
    x1 = p$x1, n1 = p$n1, x2 = p$x2, n2 = p$n2,
    difference = p$x1 / p$n1 - p$x2 / p$n2,
    chisq = unname(t$statistic),
    p_value = t$p.value
  )
})

writeLines(
  toJSON(list(r_version = R.version.string, cases = res), auto_unbox = TRUE, digits = NA, pretty = TRUE),
  out
)
