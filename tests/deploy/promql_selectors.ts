/**
 * The metric selectors of a PromQL expression, as far as the alerting rules
 * need: `drover_…` metric names and the label matchers in braces after them.
 * Not a PromQL parser: enough to check that every name and label a rule
 * selects is one Drover exports.
 *
 * @module
 */

/** A label matcher inside a selector's braces. */
export interface LabelMatcher {
  label: string;
  op: "=" | "!=" | "=~" | "!~";
  value: string;
}

/** One `name{matchers}` in an expression. */
export interface MetricSelector {
  metric: string;
  matchers: LabelMatcher[];
}

// Drover's own metrics all start with drover_; a name is followed by its matchers when braces come next.
const SELECTOR = /\b(drover_[a-z0-9_]+)\b\s*(?:\{([^}]*)\})?/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g;

/** Every `drover_…` selector in `expr`, in order (a metric selected twice appears twice). */
export function metricSelectors(expr: string): MetricSelector[] {
  return [...expr.matchAll(SELECTOR)].map(([, metric, inBraces = ""]) => ({
    metric,
    matchers: [...inBraces.matchAll(MATCHER)].map(([, label, op, value]) => ({
      label,
      op: op as LabelMatcher["op"],
      value: value.replace(/\\(.)/g, "$1"),
    })),
  }));
}
