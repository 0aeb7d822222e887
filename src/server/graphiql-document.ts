/**
 * GraphiQL's default document: a chat whose every event carries its requestId, the feedback
 * mutation that uses it, and the per-context figures feedback moves. The prompt differs on every
 * page load: a repeated prompt is answered from the cache, and feedback on a cached answer teaches
 * the router nothing (`learned: false`).
 */

const TOPICS = [
  'Thompson sampling',
  'a Beta posterior',
  'the explore-exploit trade-off',
  'time to first token',
  'a circuit breaker',
  'cache hit rate',
  'a 95% credible interval',
  'shadow traffic',
];

export function graphiqlDocument(now: Date = new Date(), random: () => number = Math.random): string {
  const topic = TOPICS[Math.floor(random() * TOPICS.length)]!;
  const asked = now.toISOString().slice(11, 19);
  return /* GraphQL */ `# Switchyard: run "Chat" to get a routed, streamed answer.
# The result pane keeps only the latest event, so every event carries its requestId.
subscription Chat {
  chat(input: { messages: [{ role: USER, content: "In one paragraph, explain ${topic}. (asked at ${asked})" }], tags: ["demo"] }) {
    __typename
    ... on ChatRoute { requestId arm model context confidence cached attempts }
    ... on ChatChunk { requestId index text }
    ... on ChatDone { requestId feedbackToken finishReason chunks metrics { latencyMs ttftMs costUsd reward } }
    ... on ChatError { requestId code message partial }
  }
}

# Then tell the router how it went: paste the requestId and its feedbackToken (which proves the
# request is yours) below and run "Feedback" (thumbs: UP or DOWN, or rating: 1 to 5, or score: 0 to 1). A re-run of the same prompt is a
# cache hit, whose feedback teaches nothing (learned: false): reload the page for a new prompt.
mutation Feedback {
  submitFeedback(input: { requestId: "paste-the-requestId-here", feedbackToken: "paste-the-feedbackToken-here", thumbs: UP }) {
    learned
    context
    armInContext { id pulls probabilityBest posterior { mean lower95 upper95 } }
  }
}

# What the router believes in a context ("demo" above; omit context for all requests).
query Arms {
  armsInContext(context: "demo") { id arm { id model enabled } pulls probabilityBest posterior { mean lower95 upper95 } }
}
`;
}
