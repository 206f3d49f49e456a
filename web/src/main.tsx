import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles/global.css';
import './styles/highlight.css';
import './styles/citations.css';
import './styles/attachments.css';
import './styles/knowledge.css';
import './styles/tools.css';
import './styles/webhooks.css';
import { App } from './App';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
