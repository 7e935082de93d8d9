'use strict';
// What the exporter does with each answer of the backend, in words, for `status` and `doctor`:
// the core's one table of outcome classes (native/retry.c, `exportOutcomes()`), so the words
// cannot drift from what the exporter decides. Read from the core OpenCode loads when it has the
// table, else from this copy's core.

let fromThisCopy;
/** The classes [{name, answers, effect, keeps, statuses: [[from, to], ...]}] of a core's table. */
function outcomeClasses(native) {
  const read = (n) => {
    try {
      return typeof n.binding.exportOutcomes === 'function' ? JSON.parse(n.binding.exportOutcomes()).classes : null;
    } catch {
      return null;
    }
  };
  const own = () => {
    if (fromThisCopy === undefined) {
      try {
        fromThisCopy = read(require('../native.js')) || [];
      } catch {
        fromThisCopy = [];
      }
    }
    return fromThisCopy;
  };
  return (native && read(native)) || own();
}

/** The class of an outcome ({status, class}): its own name when it has one, else its status's. */
function outcomeClass(outcome, classes) {
  if (outcome.class) {
    const named = classes.find((c) => c.name === outcome.class);
    if (named) return named;
  }
  const status = outcome.status > 0 ? outcome.status : 0;
  return classes.find((c) => c.statuses.some(([from, to]) => status >= from && status <= to));
}

/**
 * What became of the spans of an answer, in one line: "HTTP 404 (refused): dropped, counted
 * (spans_dropped) and logged with the first line of the answer". status 0 is no answer.
 */
function exporterAction(outcome, classes) {
  const cls = outcomeClass(outcome, classes);
  const answer = outcome.status > 0 ? `HTTP ${outcome.status}` : 'no answer';
  return cls ? `${answer} (${cls.name}): ${cls.effect}` : `${answer}: see the log`;
}

module.exports = { outcomeClasses, outcomeClass, exporterAction };
