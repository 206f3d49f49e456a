// Search past conversations (GET /chat/search); picking a result opens its topic at the message.
// The search box is a combobox: focus stays in it while ArrowDown/ArrowUp move through the
// results and Enter opens the active one; the query is marked in each snippet.

import { useEffect, useId, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { chatApi } from '../../api/chat';
import type { SearchResult } from '../../api/types';
import { useLanguage, useT } from '../../i18n';
import { formatDateTime } from '../../lib/format';
import { useListNavigation } from '../../lib/useListNavigation';
import { HighlightedText } from '../HighlightedText';
import { Modal } from '../Modal';

/** The results of one query: snippets are marked with the query they answered, not the box's text. */
interface Answer {
  query: string;
  results: SearchResult[];
}

const NO_RESULTS: SearchResult[] = [];

/** Searches as the user types, one request per pause in typing. */
function useSearch(query: string): { answer: Answer | null; error: string | null } {
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setAnswer(null);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      chatApi
        .search(q)
        .then((found) => {
          if (!controller.signal.aborted) {
            setAnswer({ query: q, results: found.results });
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
  return { answer, error };
}

export function SearchDialog({ onClose }: { onClose: () => void }) {
  const t = useT();
  const navigate = useNavigate();
  const listId = useId();
  const [query, setQuery] = useState('');
  const { answer, error } = useSearch(query);
  const results = answer?.results ?? NO_RESULTS;

  const open = (result: SearchResult) => {
    onClose();
    navigate(`/chat/${result.session_id}/${result.topic_id}?m=${encodeURIComponent(result.message_id)}`);
  };
  const nav = useListNavigation(results, open);
  const optionId = (index: number) => `${listId}-${index}`;

  // Keep the active result in view as the arrows move through a long list.
  useEffect(() => {
    if (nav.activeIndex >= 0) document.getElementById(`${listId}-${nav.activeIndex}`)?.scrollIntoView?.({ block: 'nearest' });
  }, [listId, nav.activeIndex]);

  const expanded = results.length > 0;
  return (
    <Modal title={t('search.title')} onClose={onClose} wide testId="search-dialog">
      <input
        type="search"
        className="search-input"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded}
        // Only while the list exists: an id that names nothing is an ARIA error.
        aria-controls={expanded ? listId : undefined}
        aria-activedescendant={expanded && nav.activeIndex >= 0 ? optionId(nav.activeIndex) : undefined}
        aria-describedby={`${listId}-hint`}
        placeholder={t('search.placeholder')}
        aria-label={t('search.placeholder')}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={nav.onKeyDown}
        data-testid="search-input"
        data-autofocus
      />
      <p id={`${listId}-hint`} className="search-hint">
        {t('search.hint')}
      </p>
      {error ? <p className="form-error">{error}</p> : null}
      <p className="sr-only" role="status">
        {answer ? t('search.count', { count: results.length }) : ''}
      </p>
      {answer && results.length === 0 ? <p className="muted">{t('search.none')}</p> : null}
      {expanded && answer ? (
        <ul id={listId} role="listbox" aria-label={t('search.results')} className="search-results" data-testid="search-results">
          {results.map((result, index) => (
            <SearchResultOption
              key={result.message_id}
              id={optionId(index)}
              result={result}
              query={answer.query}
              active={index === nav.activeIndex}
              onOpen={() => open(result)}
              onPoint={() => nav.setActiveIndex(index)}
            />
          ))}
        </ul>
      ) : null}
    </Modal>
  );
}

/** One result: an option of the listbox (chosen by click, or from the search box's keys). */
function SearchResultOption({
  id,
  result,
  query,
  active,
  onOpen,
  onPoint,
}: {
  id: string;
  result: SearchResult;
  query: string;
  active: boolean;
  onOpen: () => void;
  onPoint: () => void;
}) {
  const t = useT();
  const language = useLanguage();
  return (
    <li
      id={id}
      role="option"
      aria-selected={active}
      className={active ? 'search-result search-result--active' : 'search-result'}
      onClick={onOpen}
      // The pointer and the arrows share one active result.
      onMouseMove={active ? undefined : onPoint}
      data-testid="search-result"
      data-active={active || undefined}
      data-message-id={result.message_id}
      data-session-id={result.session_id}
      data-topic-id={result.topic_id}
    >
      <span className="search-result__where">
        {result.session_title} › {result.topic_title || t('topic.untitled')}
      </span>
      <span className="search-result__snippet">
        <HighlightedText text={result.snippet} query={query} />
      </span>
      <span className="search-result__time">
        {result.role === 'user' ? t('message.you') : t('search.reply')} · {formatDateTime(result.created_at, language)}
      </span>
    </li>
  );
}
