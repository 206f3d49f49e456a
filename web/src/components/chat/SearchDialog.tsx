// Search past conversations (GET /chat/search); picking a result opens its topic at the message.

import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { chatApi } from '../../api/chat';
import type { SearchResult } from '../../api/types';
import { useLanguage, useT } from '../../i18n';
import { formatDateTime } from '../../lib/format';
import { Modal } from '../Modal';

export function SearchDialog({ onClose }: { onClose: () => void }) {
  const t = useT();
  const language = useLanguage();
  const navigate = useNavigate();
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults(null);
      return;
    }
    const controller = new AbortController();
    // Debounced: one request per pause in typing, not per key.
    const timer = setTimeout(() => {
      chatApi
        .search(q)
        .then((answer) => {
          if (!controller.signal.aborted) {
            setResults(answer.results);
            setError(null);
          }
        })
        .catch((e: unknown) => !controller.signal.aborted && setError(e instanceof Error ? e.message : String(e)));
    }, 250);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [query]);

  return (
    <Modal title={t('search.title')} onClose={onClose} wide testId="search-dialog">
      <input
        type="search"
        className="search-input"
        placeholder={t('search.placeholder')}
        aria-label={t('search.placeholder')}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        data-testid="search-input"
        data-autofocus
      />
      {error ? <p className="form-error">{error}</p> : null}
      {results && results.length === 0 ? <p className="muted">{t('search.none')}</p> : null}
      {results && results.length > 0 ? (
        <ul className="search-results">
          {results.map((result) => (
            <li key={result.message_id}>
              <button
                type="button"
                className="search-result"
                data-testid="search-result"
                onClick={() => {
                  onClose();
                  navigate(`/chat/${result.session_id}/${result.topic_id}?m=${encodeURIComponent(result.message_id)}`);
                }}
              >
                <span className="search-result__where">
                  {result.session_title} › {result.topic_title || t('topic.untitled')}
                </span>
                <span className="search-result__snippet">{result.snippet}</span>
                <span className="search-result__time">
                  {result.role === 'user' ? t('message.you') : t('search.reply')} · {formatDateTime(result.created_at, language)}
                </span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </Modal>
  );
}
