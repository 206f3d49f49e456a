// The Account page's Tool servers: the platform's MCP servers open to the user (read-only: name,
// the tools that need approval) and the user's own (name, URL, header names; values are never
// shown back), with a form to add one and delete after asking, when the platform allows it.

import { useEffect } from 'react';
import type { UserToolServer } from '../../api/types';
import { useLanguage, useT, type Translate } from '../../i18n';
import { formatDate } from '../../lib/format';
import { deleteToolServer, loadToolServers, toolServersStore } from '../../state/toolServers';
import { useStore } from '../../state/store';
import { toast, toastError } from '../../state/toasts';
import { confirmAction } from '../Confirm';
import { Icon } from '../Icon';
import { AddToolServerForm } from './AddToolServerForm';

async function confirmDelete(server: UserToolServer, t: Translate): Promise<void> {
  const ok = await confirmAction({
    title: t('toolServers.deleteTitle'),
    body: t('toolServers.deleteBody', { name: server.name }),
    confirmLabel: t('common.delete'),
    danger: true,
  });
  if (!ok) return;
  try {
    await deleteToolServer(server);
    toast(t('toolServers.deleted', { name: server.name }), 'success', 2500);
  } catch (error) {
    toastError(error);
  }
}

export function ToolServersSection() {
  const t = useT();
  const language = useLanguage();
  const list = useStore(toolServersStore, (s) => s.list);
  const loaded = useStore(toolServersStore, (s) => s.loaded);

  useEffect(() => {
    loadToolServers(true).catch(toastError);
  }, []);

  // A server that predates tool servers (404) has nothing to show.
  if (loaded && !list) return null;

  return (
    <section className="card form-card tool-servers" aria-labelledby="tool-servers-title" data-testid="tool-servers">
      <h2 id="tool-servers-title">{t('toolServers.title')}</h2>
      <p className="muted">{t('toolServers.intro')}</p>
      {!list ? (
        <p className="muted">{t('common.loading')}</p>
      ) : (
        <>
          <h3>{t('toolServers.platformTitle')}</h3>
          {list.platform.length === 0 ? (
            <p className="muted" data-testid="platform-tool-servers-empty">
              {t('toolServers.platformNone')}
            </p>
          ) : (
            <ul className="tool-servers__list" data-testid="platform-tool-servers">
              {list.platform.map((server) => (
                <li key={server.ref} className="tool-servers__item" data-testid="platform-tool-server" data-ref={server.ref}>
                  <span className="tool-servers__name">{server.name}</span>
                  <span className="muted tool-servers__detail" data-testid="platform-tool-server-approval">
                    {server.approval_tools.length
                      ? t('toolServers.approvalTools', { tools: server.approval_tools.join(', ') })
                      : t('toolServers.noApproval')}
                  </span>
                </li>
              ))}
            </ul>
          )}

          <h3>{t('toolServers.userTitle')}</h3>
          {list.user.length > 0 ? (
            <ul className="tool-servers__list" data-testid="user-tool-servers">
              {list.user.map((server) => (
                <li key={server.id} className="tool-servers__item" data-testid="user-tool-server" data-ref={server.ref} data-name={server.name}>
                  <div className="tool-servers__main">
                    <span className="tool-servers__name">{server.name}</span>
                    <code className="tool-servers__url" data-testid="user-tool-server-url">
                      {server.url}
                    </code>
                    <span className="muted tool-servers__detail" data-testid="user-tool-server-headers">
                      {server.header_names.length
                        ? t('toolServers.headerNames', { names: server.header_names.join(', ') })
                        : t('toolServers.noHeaders')}
                      {' · '}
                      {t('toolServers.addedOn', { date: formatDate(server.created_at, language) })}
                    </span>
                  </div>
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={t('toolServers.delete', { name: server.name })}
                    title={t('toolServers.delete', { name: server.name })}
                    onClick={() => void confirmDelete(server, t)}
                    data-testid="user-tool-server-delete"
                  >
                    <Icon name="trash" />
                  </button>
                </li>
              ))}
            </ul>
          ) : list.user_servers_allowed ? (
            <p className="muted" data-testid="user-tool-servers-empty">
              {t('toolServers.userNone')}
            </p>
          ) : null}
          {list.user_servers_allowed ? (
            <AddToolServerForm />
          ) : (
            <p className="callout tool-servers__disabled" data-testid="user-tool-servers-disabled">
              {t('toolServers.notAllowed')}
            </p>
          )}
        </>
      )}
    </section>
  );
}
