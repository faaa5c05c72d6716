"""The whole path of a new user, in a real browser: sign up, wait for approval, log in, pick the
TensorFlow runtime, run TensorFlow in a notebook, log out."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD

from . import hubpages as ui

TF_CELL = "import tensorflow as tf; print(tf.reduce_sum(tf.ones([3,3])))"


def test_new_user_signs_up_runs_tensorflow_in_a_notebook_and_logs_out(hub, new_page):
    user, admin = new_page(), new_page()

    ui.sign_up(user, hub.url, "webuser", USER_PASSWORD)
    # Before the admin's approval the user is told so, not let in.
    ui.log_in(user, hub.url, "webuser", USER_PASSWORD)
    expect(ui.login_error(user)).to_contain_text("has not been authorized by an administrator yet")

    ui.log_in(admin, hub.url, ADMIN, ADMIN_PASSWORD)
    ui.authorize(admin, hub.url, "webuser")

    ui.log_in(user, hub.url, "webuser", USER_PASSWORD)
    ui.start_runtime(user, hub.url, "webuser", "CPU · TensorFlow")
    ui.new_python_notebook(user)
    ui.run_cell(user, TF_CELL)
    expect(ui.cell_outputs(user).filter(has_text="tf.Tensor(9.0")).to_be_visible(timeout=ui.KERNEL_TIMEOUT_MS)

    ui.lab_log_out(user)
    ui.expect_login_page(user)
