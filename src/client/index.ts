export * from './switchyard-client.js';
export * from './generated/graphql.js';
