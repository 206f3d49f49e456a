// Adding an MCP server of the user's own: a name, its Streamable HTTP URL and optional headers
// (name/value rows, the value in a password input: usually a credential, never shown back).
// A refusal goes beside the field it names (`url: …`, `headers.X: …`), not into a toast.

import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/http';
import { MAX_SERVER_HEADERS, headerRowProblems, headersOf, serverFormErrorOf, type HeaderRow, type ServerFormErrors } from '../../chat/toolServers';
import { useT } from '../../i18n';
import { addToolServer, markUserServersRefused } from '../../state/toolServers';
import { toast, toastError } from '../../state/toasts';
import { FieldError } from '../FieldError';
import { Icon } from '../Icon';

export function AddToolServerForm() {
  const t = useT();
  const ids = useId();
  const nextKey = useRef(1);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [rows, setRows] = useState<HeaderRow[]>([]);
  const [errors, setErrors] = useState<ServerFormErrors>({});
  const [busy, setBusy] = useState(false);
  const nameRefs = useRef(new Map<number, HTMLInputElement>());
  const nameInput = useRef<HTMLInputElement>(null);
  const urlInput = useRef<HTMLInputElement>(null);

  const problems = headerRowProblems(rows);
  const rowError = (key: number) => errors.header?.[key] ?? (problems[key] ? t(problems[key]) : undefined);

  // A row just added takes the focus once it is rendered.
  const focusRow = useRef<number | null>(null);
  useEffect(() => {
    if (focusRow.current === null) return;
    nameRefs.current.get(focusRow.current)?.focus();
    focusRow.current = null;
  }, [rows]);

  const addRow = () => {
    const key = nextKey.current++;
    focusRow.current = key;
    setRows((held) => [...held, { key, name: '', value: '' }]);
  };
  const changeRow = (key: number, change: Partial<HeaderRow>) => {
    setRows((held) => held.map((row) => (row.key === key ? { ...row, ...change } : row)));
    setErrors(({ header, headers: _headers, ...rest }) => {
      if (!header?.[key]) return rest;
      const { [key]: _gone, ...others } = header;
      return { ...rest, header: others };
    });
  };
  const removeRow = (key: number) => {
    setRows((held) => held.filter((row) => row.key !== key));
    setErrors(({ headers: _headers, ...rest }) => rest);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !name.trim() || !url.trim() || Object.keys(problems).length > 0) return;
    setBusy(true);
    setErrors({});
    try {
      const headers = headersOf(rows);
      const server = await addToolServer({ name: name.trim(), url: url.trim(), ...(headers ? { headers } : {}) });
      setName('');
      setUrl('');
      setRows([]);
      // The Add button is disabled by the empty form: keep the focus in it, ready for another.
      nameInput.current?.focus();
      toast(t('toolServers.added', { name: server.name }), 'success', 2500);
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        const found = serverFormErrorOf(error.message, rows);
        setErrors(found);
        // Take the user to what needs fixing.
        const rowKey = Object.keys(found.header ?? {})[0];
        const target = found.url ? urlInput.current : found.name ? nameInput.current : rowKey ? nameRefs.current.get(Number(rowKey)) : undefined;
        target?.focus();
      } else if (error instanceof ApiError && error.status === 403) {
        markUserServersRefused();
        toastError(error);
      } else toastError(error);
    } finally {
      setBusy(false);
    }
  };

  const nameError = `${ids}-name-error`;
  const urlError = `${ids}-url-error`;
  const headersError = `${ids}-headers-error`;
  return (
    <form className="tool-server-form" onSubmit={submit} noValidate data-testid="tool-server-form">
      <h3>{t('toolServers.addTitle')}</h3>
      <div className="form-row form-row--wrap">
        <div className="field field--grow">
          <label className="field">
            <span>{t('toolServers.name')}</span>
            <input
              ref={nameInput}
              value={name}
              required
              maxLength={200}
              autoComplete="off"
              aria-invalid={errors.name ? true : undefined}
              aria-describedby={errors.name ? nameError : undefined}
              onChange={(e) => {
                setName(e.target.value);
                setErrors(({ name: _name, form: _form, ...rest }) => rest);
              }}
              data-testid="tool-server-name"
            />
          </label>
          <FieldError id={nameError} text={errors.name} testId="tool-server-name-error" alert />
        </div>
        <div className="field field--grow tool-server-form__url">
          <label className="field">
            <span>{t('toolServers.url')}</span>
            <input
              ref={urlInput}
              type="url"
              value={url}
              required
              maxLength={2048}
              spellCheck={false}
              autoComplete="off"
              placeholder="https://mcp.example.com/mcp"
              aria-invalid={errors.url ? true : undefined}
              aria-describedby={errors.url ? urlError : undefined}
              onChange={(e) => {
                setUrl(e.target.value);
                setErrors(({ url: _url, form: _form, ...rest }) => rest);
              }}
              data-testid="tool-server-url"
            />
          </label>
          <FieldError id={urlError} text={errors.url} testId="tool-server-url-error" alert />
        </div>
      </div>
      <fieldset className="tool-server-form__headers" aria-describedby={errors.headers ? headersError : undefined} data-testid="tool-server-headers">
        <legend>{t('toolServers.headers')}</legend>
        <p className="muted tool-server-form__hint">{t('toolServers.headersHint')}</p>
        {rows.length > 0 ? (
          <ul className="tool-server-form__rows">
            {rows.map((row, index) => {
              const error = rowError(row.key);
              const errorId = `${ids}-header-${row.key}-error`;
              return (
                <li key={row.key} className="tool-server-form__row" data-testid="tool-server-header-row">
                  <label className="field field--grow">
                    <span>{t('toolServers.headerName', { n: index + 1 })}</span>
                    <input
                      ref={(el) => {
                        if (el) nameRefs.current.set(row.key, el);
                        else nameRefs.current.delete(row.key);
                      }}
                      value={row.name}
                      spellCheck={false}
                      autoComplete="off"
                      placeholder="Authorization"
                      aria-invalid={error ? true : undefined}
                      aria-describedby={error ? errorId : undefined}
                      onChange={(e) => changeRow(row.key, { name: e.target.value })}
                      data-testid="tool-server-header-name"
                    />
                  </label>
                  <label className="field field--grow">
                    <span>{t('toolServers.headerValue', { n: index + 1 })}</span>
                    <input
                      type="password"
                      value={row.value}
                      autoComplete="off"
                      aria-invalid={error ? true : undefined}
                      aria-describedby={error ? errorId : undefined}
                      onChange={(e) => changeRow(row.key, { value: e.target.value })}
                      data-testid="tool-server-header-value"
                    />
                  </label>
                  <button
                    type="button"
                    className="icon-button tool-server-form__remove"
                    aria-label={t('toolServers.headerRemove', { n: index + 1 })}
                    title={t('toolServers.headerRemove', { n: index + 1 })}
                    onClick={() => removeRow(row.key)}
                    data-testid="tool-server-header-remove"
                  >
                    <Icon name="x" />
                  </button>
                  <FieldError id={errorId} text={error} testId="tool-server-header-error" alert={Boolean(errors.header?.[row.key])} />
                </li>
              );
            })}
          </ul>
        ) : null}
        <FieldError id={headersError} text={errors.headers} testId="tool-server-headers-error" alert />
        <button type="button" className="button button--small" disabled={rows.length >= MAX_SERVER_HEADERS} onClick={addRow} data-testid="tool-server-header-add">
          <Icon name="plus" size={14} /> {t('toolServers.headerAdd')}
        </button>
      </fieldset>
      {errors.form ? (
        <p className="form-error" role="alert" data-testid="tool-server-form-error">
          {errors.form}
        </p>
      ) : null}
      <button
        type="submit"
        className="button button--primary"
        disabled={busy || !name.trim() || !url.trim() || Object.keys(problems).length > 0}
        data-testid="tool-server-add"
      >
        <Icon name="plus" /> {t('toolServers.add')}
      </button>
    </form>
  );
}
