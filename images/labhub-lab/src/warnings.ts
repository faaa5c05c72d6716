// Warnings where the user works: a notification from warn_before ahead of a stop, the "Are you still
// there?" modal in the last seconds of an idle stop, and a save of unsaved documents just before.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';

import { Stop, dialogDue, saveDue, stopKey, warningText } from './logic';

export class StopWarnings {
  private notified = '';
  private asked = '';
  private saved = '';
  private notificationId = '';
  private dialog: Dialog<unknown> | null = null;

  constructor(
    private app: JupyterFrontEnd,
    private docManager: IDocumentManager | null,
    private stillThere: () => Promise<void>
  ) {}

  /** Called every second with the announced stop (or null) and the server's time. */
  check(stop: Stop | null, warnBefore: number, serverNow: number): void {
    if (!stop) {
      this.clear();
      return;
    }
    const key = stopKey(stop);
    if (this.notified !== key) {
      this.notified = key;
      this.dismissNotification();
      const text = warningText(stop, epoch => new Date(epoch * 1000).toLocaleTimeString());
      this.notificationId = Notification.warning(text, { autoClose: false });
    }
    if (this.asked !== key && dialogDue(stop, warnBefore, serverNow)) {
      this.asked = key;
      void this.ask(stop, serverNow);
    }
    if (this.saved !== key && saveDue(stop, serverNow)) {
      this.saved = key;
      void this.saveAll();
    }
  }

  /** The stop was called off (interaction, an admin's extension): take the warnings down. */
  private clear(): void {
    this.notified = this.asked = this.saved = '';
    this.dismissNotification();
    if (this.dialog) {
      // Resolves the open dialog as dismissed: no "still there" report.
      this.dialog.reject();
      this.dialog = null;
    }
  }

  private dismissNotification(): void {
    if (this.notificationId) {
      Notification.dismiss(this.notificationId);
      this.notificationId = '';
    }
  }

  private async ask(stop: Stop, serverNow: number): Promise<void> {
    const seconds = Math.max(0, Math.round(stop.at - serverNow));
    const body = `This runtime will be stopped in about ${seconds} seconds because nothing has happened ` +
      'in it for a while. Your files are kept; unsaved notebooks are saved first.';
    const dialog = new Dialog({
      title: 'Are you still there?',
      body,
      buttons: [Dialog.okButton({ label: "I'm still here" })],
      hasClose: false
    });
    dialog.addClass('labhub-lab-still-there');
    this.dialog = dialog;
    try {
      const result = await dialog.launch();
      if (result.button.accept) {
        await this.stillThere();
      }
    } finally {
      if (this.dialog === dialog) {
        this.dialog = null;
      }
      dialog.dispose();
    }
  }

  /** Save every open document with unsaved changes; never counted as interaction. */
  private async saveAll(): Promise<void> {
    if (!this.docManager) {
      return;
    }
    const saves: Promise<void>[] = [];
    for (const widget of this.app.shell.widgets('main')) {
      const context = this.docManager.contextForWidget(widget);
      if (context && context.model.dirty && !context.model.readOnly) {
        saves.push(context.save());
      }
    }
    await Promise.allSettled(saves);
  }
}
