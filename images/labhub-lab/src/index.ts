// labhub-lab's frontend: the session status in the status bar, stop warnings, interaction reports,
// and the assignments panel in the left sidebar.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { fetchStatus } from './api';
import { InteractionReporter } from './interaction';
import { AssignmentsPanel } from './panel';
import { SessionStatus, STATUS_ID } from './status';
import { StopWarnings } from './warnings';

/** How often the status is read; the service rewrites it about as often. */
const REFRESH_MS = 15_000;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'labhub-lab:plugin',
  description: 'labhub session status, stop warnings, interaction reports and the assignments panel',
  autoStart: true,
  optional: [IStatusBar, IDocumentManager, INotebookTracker, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    docManager: IDocumentManager | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const logError = (error: unknown) => console.warn('labhub-lab:', error);
    const reporter = new InteractionReporter(logError);
    reporter.attach(app);

    const status = new SessionStatus();
    if (statusBar) {
      statusBar.registerStatusItem(STATUS_ID, { item: status, align: 'left', rank: 1000 });
    }

    const refresh = async () => {
      try {
        status.set(await fetchStatus());
      } catch (error) {
        status.set(null, String(error));
      }
    };
    const warnings = new StopWarnings(app, docManager, async () => {
      await reporter.now('still-there');
      await refresh();
    });

    if (docManager) {
      const panel = new AssignmentsPanel(docManager, notebooks);
      app.shell.add(panel, 'left', { rank: 600 });
      restorer?.add(panel, panel.id);
    }

    void refresh();
    window.setInterval(() => void refresh(), REFRESH_MS);
    window.setInterval(() => {
      status.tick();
      const session = status.session();
      warnings.check(session?.stop ?? null, session?.warn_before ?? 0, status.serverNow());
    }, 1000);
  }
};

export default plugin;
