// A fenced code block: language label, copy button, highlighted body.

import { useState, type ReactNode } from 'react';
import type { Element } from 'hast';
import { useT } from '../i18n';
import { copyText } from '../lib/clipboard';
import { Icon } from '../components/Icon';
import { codeLanguage, hastText } from './highlight';

export function CodeBlock({ node, children }: { node?: Element | undefined; children?: ReactNode }) {
  const t = useT();
  const [copied, setCopied] = useState(false);
  const code = node?.children.find((c): c is Element => c.type === 'element' && c.tagName === 'code');
  const language = code ? codeLanguage(code) : undefined;
  const text = code ? hastText(code).replace(/\n$/, '') : '';
  return (
    <div className="code-block" data-testid="code-block">
      <div className="code-block__bar">
        <span className="code-block__lang">{language ?? t('code.plain')}</span>
        <button
          type="button"
          className="icon-button icon-button--small"
          aria-label={copied ? t('common.copied') : t('code.copy')}
          title={copied ? t('common.copied') : t('code.copy')}
          data-testid="code-copy"
          onClick={async () => {
            if (await copyText(text)) {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            }
          }}
        >
          <Icon name={copied ? 'check' : 'copy'} />
        </button>
      </div>
      <pre>{children}</pre>
    </div>
  );
}
