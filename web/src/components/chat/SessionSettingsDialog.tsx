// Settings of one session: the agent fields, folder (group) and pin, the knowledge bases its
// answers draw on, and the MCP servers its replies may call.

import { useEffect, useState } from 'react';
import { ApiError } from '../../api/http';
import type { Session } from '../../api/types';
import { folderNames } from '../../chat/sessionGroups';
import { sameRefs, toolsToSave } from '../../chat/toolServers';
import { useT } from '../../i18n';
import { chatDataStore, updateSession } from '../../state/chatData';
import { useStore } from '../../state/store';
import { toastError } from '../../state/toasts';
import { loadToolServers, toolServersStore } from '../../state/toolServers';
import { AgentForm, type AgentFields } from '../AgentForm';
import { Modal } from '../Modal';
import { KnowledgeBasePicker } from './KnowledgeBasePicker';
import { SessionToolsPicker } from './SessionToolsPicker';

const sameIds = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((id) => b.includes(id));

export function SessionSettingsDialog({ session, onClose }: { session: Session; onClose: () => void }) {
  const t = useT();
  const models = useStore(chatDataStore, (s) => s.models);
  const sessions = useStore(chatDataStore, (s) => s.sessions);
  const [fields, setFields] = useState<AgentFields>({
    name: session.title,
    avatar: session.avatar,
    description: session.description,
    system_prompt: session.system_prompt,
    model: session.model,
    temperature: session.temperature,
    opening_message: session.opening_message ?? '',
  });
  const [group, setGroup] = useState(session.group);
  const [pinned, setPinned] = useState(session.pinned);
  const [bases, setBases] = useState<string[]>(session.knowledge_base_ids ?? []);
  const toolList = useStore(toolServersStore, (s) => s.list);
  const [tools, setTools] = useState<string[]>(session.tools ?? []);
  const [toolsError, setToolsError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    loadToolServers(true).catch(toastError);
  }, []);

  // Only once the servers are listed (stale refs are dropped then), and only when changed: a
  // server without tool servers refuses the unknown field.
  const nextTools = toolList ? toolsToSave(tools, toolList) : null;
  const toolsChange = nextTools && !sameRefs(nextTools, session.tools ?? []) ? { tools: nextTools } : {};

  const save = async () => {
    setBusy(true);
    setToolsError(null);
    try {
      await updateSession(session.id, {
        title: fields.name.trim() || session.title,
        avatar: fields.avatar,
        description: fields.description,
        system_prompt: fields.system_prompt,
        ...(fields.model ? { model: fields.model } : {}),
        temperature: fields.temperature,
        opening_message: fields.opening_message.trim() ? fields.opening_message : null,
        group: group.trim(),
        pinned,
        // Only when changed: a server without knowledge bases refuses the unknown field.
        ...(sameIds(bases, session.knowledge_base_ids ?? []) ? {} : { knowledge_base_ids: bases }),
        ...toolsChange,
      });
      onClose();
    } catch (error) {
      // `tools: at most 10`, `tools[2]: no tool server …`: shown in the Tools fieldset.
      const field = /^tools(\[\d+\])?: /.exec(error instanceof ApiError && error.status === 400 ? error.message : '');
      if (field && error instanceof Error) setToolsError(error.message.slice(field[0].length));
      else toastError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('session.settings')}
      onClose={onClose}
      wide
      testId="session-settings"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="button" className="button button--primary" disabled={busy} onClick={() => void save()} data-testid="session-settings-save">
            {t('common.save')}
          </button>
        </>
      }
    >
      <AgentForm value={fields} onChange={setFields} models={models} />
      <div className="form-row">
        <label className="field field--grow">
          <span>{t('session.group')}</span>
          <input list="session-folders" value={group} placeholder={t('session.groupPlaceholder')} onChange={(e) => setGroup(e.target.value)} data-testid="session-group" />
          <datalist id="session-folders">
            {folderNames(sessions).map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label className="field field--check">
          <input type="checkbox" checked={pinned} onChange={(e) => setPinned(e.target.checked)} />
          <span>{t('session.pin')}</span>
        </label>
      </div>
      <KnowledgeBasePicker value={bases} onChange={setBases} />
      {toolList ? (
        <SessionToolsPicker
          list={toolList}
          value={tools}
          onChange={(next) => {
            setTools(next);
            setToolsError(null);
          }}
          error={toolsError}
        />
      ) : null}
    </Modal>
  );
}
