import { RecordId } from 'surrealdb';
import { openDatabase, runQuery } from './dist/storage/database.js';
for (const url of ['mem://', 'rocksdb:///tmp/rk/' + Date.now()]) {
const db = await openDatabase({ url });
const feed = new RecordId('plan_feed', 'org');
await Promise.all(Array.from({length: 40}, (_, i) => runQuery(db, `BEGIN; LET $b = (SELECT seq FROM ONLY $feed); LET $n = ($b.seq ?? 0) + 1; CREATE type::record('plan_x', $n) CONTENT { i: $i } ; UPSERT $feed SET seq = $n; COMMIT;`, { feed, i })));
console.log(url, await runQuery(db, 'SELECT seq FROM ONLY $feed; SELECT count() FROM plan_x GROUP ALL;', { feed }));
await db.close();
}
