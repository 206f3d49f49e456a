// Deleting a knowledge base, after asking: its index goes, its files stay in the user's files.

import type { KnowledgeBase } from '../../api/types';
import type { Translate } from '../../i18n';
import { deleteKnowledgeBase } from '../../state/knowledge';
import { toastError } from '../../state/toasts';
import { confirmAction } from '../Confirm';

export async function confirmDeleteBase(kb: KnowledgeBase, t: Translate): Promise<boolean> {
  const ok = await confirmAction({
    title: t('knowledge.deleteTitle'),
    body: t('knowledge.deleteBody', { name: kb.name }),
    confirmLabel: t('common.delete'),
    danger: true,
  });
  if (!ok) return false;
  try {
    await deleteKnowledgeBase(kb.id);
    return true;
  } catch (error) {
    toastError(error);
    return false;
  }
}
