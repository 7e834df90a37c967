// Moved to harness/wait.ts. Kept only for test/hostile/*, whose split is another piece of issue 15:
// once that lands, point its imports at harness/ and delete this file.
export * from '../../harness/wait.ts';
