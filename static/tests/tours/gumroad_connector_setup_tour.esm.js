/**
 * A first-time setup, as an accountant does it: create a connector from the
 * Invoicing > Gumroad menu, verify it, preview an import, import, see the sales.
 *
 * The test (tests/test_tours.py) opens the page itself, with the address of its
 * Gumroad sandbox, the token and the numbers to expect in the query string: the
 * sandbox listens on a port chosen at run time. That is also why the tour has no
 * `url` of its own (a `url` different from the test's one would redirect to it and
 * drop the query string).
 */
import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_utils";

import {tourParams} from "@gumroad_connector/../tests/tours/tour_params.esm";

function expectations() {
    return tourParams({
        apiUrl: "api_url",
        token: "token",
        published: "published",
        salesInRange: "sales_in_range",
        newSales: "new_sales",
        salesAfterImport: "sales_after_import",
    });
}

// The server calls the sandbox while the browser waits: give it time on a busy machine.
const SERVER_ROUND_TRIP = 45000;

registry.category("web_tour.tours").add("gumroad_connector_setup_tour", {
    steps: () => {
        const expected = expectations();
        return [
            ...stepUtils.goToAppSteps("account.menu_finance", "Open Invoicing"),
            {
                content: "Open the Gumroad menu",
                trigger:
                    '.o_menu_sections button[data-menu-xmlid="gumroad_connector.gumroad_menu_root"]:contains(Gumroad)',
                run: "click",
            },
            {
                content: "Open the connectors",
                trigger:
                    '.dropdown-item[data-menu-xmlid="gumroad_connector.gumroad_account_menu"]:contains(Connectors)',
                run: "click",
            },
            {
                content:
                    "No connector yet: the list invites to connect a seller account",
                trigger: ".o_view_nocontent:contains(Connect a Gumroad seller account)",
            },
            {
                content: "Create a connector",
                trigger: ".o_control_panel .o_list_button_add",
                run: "click",
            },
            {
                trigger: ".o_form_view .o_field_widget[name=name] input",
                run: "edit Tour store",
            },
            {
                content: "The token field hides what is typed",
                trigger:
                    ".o_form_view .o_field_widget[name=access_token] input[type=password]",
                run: `edit ${expected.token}`,
            },
            {
                content: "Point the connector at the sandbox (a debug-mode field)",
                trigger: ".o_form_view .o_field_widget[name=api_base_url] input",
                run: `edit ${expected.apiUrl}`,
            },
            {
                content: "A new connector is not connected yet",
                trigger:
                    ".o_statusbar_status button.o_arrow_button_current[data-value=not_connected]:contains(Not connected)",
            },
            {
                trigger: ".o_form_view .o_form_button_save",
                run: "click",
            },
            {
                content: "Once the token is saved, the connection can be verified",
                trigger:
                    ".o_form_statusbar button[name=action_verify_connection]:contains(Verify connection)",
                run: "click",
                timeout: SERVER_ROUND_TRIP,
            },
            {
                content: "The status bar shows the connector as connected",
                trigger:
                    ".o_statusbar_status button.o_arrow_button_current[data-value=connected]:contains(Connected)",
                timeout: SERVER_ROUND_TRIP,
            },
            {
                content: "The summary counts the sandbox's published products",
                trigger: `.o_form_view .o_field_widget[name=products_published_count]:text(${expected.published})`,
            },
            {
                content: "The chatter records the connection",
                trigger:
                    ".o-mail-Chatter .o-mail-Message:contains(Connected to Gumroad as)",
            },
            {
                content: "Open the import wizard from the connector",
                trigger:
                    ".o_form_statusbar button[name=action_open_import_wizard]:contains(Import sales)",
                run: "click",
            },
            {
                trigger: ".modal .modal-title:contains(Import Gumroad sales)",
            },
            {
                trigger:
                    ".modal .modal-footer button[name=action_preview]:contains(Preview)",
                run: "click",
                timeout: SERVER_ROUND_TRIP,
            },
            {
                content: "The preview counts the sales of the last 30 days",
                trigger: `.modal .o_field_widget[name=preview_read]:text(${expected.salesInRange})`,
                timeout: SERVER_ROUND_TRIP,
            },
            {
                content: "Every paid sale would be new",
                trigger: `.modal .o_field_widget[name=preview_new]:text(${expected.newSales})`,
            },
            {
                content: "The dialog reopened with the preview keeps its title",
                trigger: ".modal .modal-title:contains(Import Gumroad sales)",
            },
            {
                trigger:
                    ".modal .modal-footer button[name=action_import]:contains(Import)",
                run: "click",
                timeout: SERVER_ROUND_TRIP,
            },
            {
                content: "The wizard reports what the import booked",
                trigger: `.modal .alert-info:contains(${expected.salesInRange} sales read: ${expected.newSales} new)`,
                timeout: SERVER_ROUND_TRIP,
            },
            {
                trigger: ".modal .modal-footer button:contains(Close)",
                run: "click",
            },
            {
                content:
                    "Back on the connector, the Sales button counts the imported sales",
                trigger: `.o_form_view button[name=action_open_sales] .o_stat_value:text(${expected.salesAfterImport})`,
                run: "click",
            },
            {
                content: "The connector's sales are listed",
                trigger: `.o_list_view .o_pager_limit:text(${expected.salesAfterImport})`,
            },
            {
                content: "Paid sales carry an invoice",
                trigger: ".o_list_view .o_data_row td[name=invoice_id]:contains(INV/)",
            },
            {
                content: "and the Invoiced badge",
                trigger:
                    ".o_list_view .o_data_row td[name=state] .badge:contains(Invoiced)",
            },
        ];
    },
});
