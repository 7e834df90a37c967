/**
 * The relay's HTTP and fill tests again with the raw-socket fast path off, so Node's http front end
 * (used for every request the fast path hands over) is held to the same behaviour. The flag is read
 * when a test builds its relay config, after this line ran.
 */
import './relay-http.test.ts';
import './relay-fill.test.ts';

process.env.RINGCAST_TEST_NODE_PATH = '1';
