// "Test retrieval": asks the base what a chat question would retrieve (POST …/search) and shows
// the hits with their file, heading, page, passage and score. Each search embeds the query,
// billed like any embedding.

import { useState, type FormEvent } from 'react';
import { knowledgeApi } from '../../api/knowledge';
import type { RetrievalHit } from '../../api/types';
import { formatScore } from '../../chat/sources';
import { useT } from '../../i18n';
import { LIMITS } from '../../knowledge/settings';
import { toastError } from '../../state/toasts';
import { Icon } from '../Icon';

/** Characters of a hit shown before "show more". */
const PREVIEW_CHARS = 400;

function Hit({ hit, rank }: { hit: RetrievalHit; rank: number }) {
  const t = useT();
  const [whole, setWhole] = useState(false);
  const long = hit.text.length > PREVIEW_CHARS;
  const similarity = formatScore(hit.similarity);
  return (
    <li className="kb-hit" data-testid="kb-hit">
      <div className="kb-hit__head">
        <span className="kb-hit__rank" aria-hidden="true">
          {rank}
        </span>
        <span className="kb-hit__file" data-testid="kb-hit-file">
          {hit.file_name}
        </span>
        {hit.heading ? <span className="kb-hit__where">{hit.heading}</span> : null}
        {hit.page !== null ? <span className="kb-hit__where">{t('citation.page', { page: hit.page })}</span> : null}
        <span className="kb-hit__score" title={t('knowledge.scoreTitle')}>
          {t('knowledge.hitScore', { score: hit.score.toFixed(4) })}
          {similarity ? ` · ${t('citation.score', { score: similarity })}` : ''}
        </span>
      </div>
      <p className="kb-hit__text">{whole || !long ? hit.text : `${hit.text.slice(0, PREVIEW_CHARS)}…`}</p>
      {long ? (
        <button type="button" className="button button--small button--ghost" aria-expanded={whole} onClick={() => setWhole((v) => !v)}>
          {whole ? t('knowledge.showLess') : t('knowledge.showMore')}
        </button>
      ) : null}
    </li>
  );
}

export function RetrievalTester({ kbId, defaultTopK }: { kbId: string; defaultTopK: number }) {
  const t = useT();
  const [query, setQuery] = useState('');
  const [topK, setTopK] = useState(String(defaultTopK));
  const [hits, setHits] = useState<RetrievalHit[] | null>(null);
  const [busy, setBusy] = useState(false);

  const k = Number(topK);
  const validK = Number.isInteger(k) && k >= LIMITS.top_k.min && k <= LIMITS.top_k.max;

  const search = async (event: FormEvent) => {
    event.preventDefault();
    if (!query.trim() || !validK) return;
    setBusy(true);
    try {
      const answer = await knowledgeApi.search(kbId, query.trim(), k);
      setHits(answer.data);
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card kb-section" aria-labelledby="kb-test-title" data-testid="kb-retrieval">
      <h2 id="kb-test-title">{t('knowledge.testTitle')}</h2>
      <p className="muted">{t('knowledge.testHint')}</p>
      <form className="kb-test" onSubmit={search}>
        <label className="field field--grow">
          <span>{t('knowledge.testQuery')}</span>
          <input value={query} maxLength={4000} onChange={(e) => setQuery(e.target.value)} data-testid="kb-test-query" />
        </label>
        <label className="field kb-test__k">
          <span>{t('knowledge.topK')}</span>
          <input type="number" min={LIMITS.top_k.min} max={LIMITS.top_k.max} value={topK} onChange={(e) => setTopK(e.target.value)} aria-invalid={!validK} />
        </label>
        <button type="submit" className="button button--primary" disabled={busy || !query.trim() || !validK} data-testid="kb-test-run">
          {busy ? <span className="spinner" aria-hidden="true" /> : <Icon name="search" />} {t('knowledge.testRun')}
        </button>
      </form>
      {hits ? (
        hits.length === 0 ? (
          <p className="muted" role="status" data-testid="kb-test-none">
            {t('knowledge.testNone')}
          </p>
        ) : (
          <ol className="kb-hits" aria-label={t('knowledge.testResults')}>
            {hits.map((hit, i) => (
              <Hit key={hit.chunk_id} hit={hit} rank={i + 1} />
            ))}
          </ol>
        )
      ) : null}
    </section>
  );
}
