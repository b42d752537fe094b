/**
 * The accountant's Monday: the activity the connector raised for a sale in error,
 * the sale opened from the connector, retried, and the alert closing itself.
 *
 * The test (tests/test_tours.py) books one sale in error and passes the connector's
 * name in the start URL's query string.
 */
import {registry} from "@web/core/registry";

import {tourParams} from "@gumroad_connector/../tests/tours/tour_params.esm";

registry.category("web_tour.tours").add("gumroad_connector_monday_tour", {
    steps: () => {
        const expected = tourParams({connector: "connector"});
        return [
            {
                content: "Open my activities",
                trigger: ".o_menu_systray i[aria-label=Activities]",
                run: "click",
            },
            {
                content: "The Gumroad connector has an activity for me",
                trigger: ".o-mail-ActivityGroup:contains(Gumroad Connector)",
                run: "click",
            },
            {
                content: "Open the connector",
                trigger: `.o_data_row td:contains(${expected.connector})`,
                run: "click",
            },
            {
                content: "The activity names the problem",
                trigger: ".o-mail-Activity:contains(Sales in error)",
            },
            {
                content: "Open the sales in error",
                trigger: ".o_form_view .oe_stat_button[name=action_open_error_sales]",
                run: "click",
            },
            {
                content: "Open the sale in error",
                trigger: ".o_list_view .o_data_row td[name=state]:contains(Error)",
                run: "click",
            },
            {
                content: "Retry it",
                trigger: ".o_form_view .o_form_statusbar button[name=action_retry]",
                run: "click",
            },
            {
                content: "It is booked",
                trigger:
                    ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Invoiced)",
            },
            {
                content: "Back to the connector",
                trigger: `.o_breadcrumb .breadcrumb-item a:contains(${expected.connector})`,
                run: "click",
            },
            {
                content: "The alert closed itself: no activity, no alert button",
                trigger: `.o_form_view:not(:has(.oe_stat_button[name=action_open_alerts])):has(.o-mail-Message:contains(Solved: Sales in error))`,
            },
        ];
    },
});
