/**
 * After an import and a few pings: the Gumroad sales as a list, a pivot and a graph
 * (the "dashboard"), then the inbox of received pings.
 *
 * The test (tests/test_tours.py) passes the numbers to expect in the start URL's
 * query string, so the tour has no `url` of its own (it would redirect and drop them).
 */
import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_utils";

import {tourParams} from "@gumroad_connector/../tests/tours/tour_params.esm";

function expectations() {
    return tourParams({
        sales: "sales",
        product: "product",
        pings: "pings",
    });
}

function openGumroadMenu(menuXmlid, label) {
    return [
        {
            content: "Open the Gumroad menu",
            trigger:
                '.o_menu_sections button[data-menu-xmlid="gumroad_connector.gumroad_menu_root"]:contains(Gumroad)',
            run: "click",
        },
        {
            content: `Open ${label}`,
            trigger: `.dropdown-item[data-menu-xmlid="gumroad_connector.${menuXmlid}"]:contains(${label})`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("gumroad_connector_dashboard_tour", {
    steps: () => {
        const expected = expectations();
        return [
            ...stepUtils.goToAppSteps("account.menu_finance", "Open Invoicing"),
            ...openGumroadMenu("gumroad_sale_menu", "Sales"),
            {
                content: "Every imported sale is listed",
                trigger: `.o_list_view .o_pager_limit:text(${expected.sales})`,
            },
            {
                trigger:
                    ".o_list_view .o_data_row td[name=state] .badge:contains(Invoiced)",
            },
            {
                content: "Refunds show as their own state",
                trigger:
                    ".o_list_view .o_data_row td[name=state] .badge:contains(Reversed)",
            },
            {
                content: "The list sums the prices",
                trigger: ".o_list_view tfoot td:contains($)",
            },
            {
                content: "Switch to the pivot",
                trigger: ".o_control_panel .o_switch_view.o_pivot",
                run: "click",
            },
            {
                content: "The pivot shows prices per month and product",
                trigger: ".o_pivot .o_pivot_measure_row:contains(Price (USD))",
            },
            {
                trigger: `.o_pivot thead th:contains(${expected.product})`,
            },
            {
                trigger: ".o_pivot tbody th.o_pivot_header_cell_opened:contains(Total)",
            },
            {
                content: "Switch to the graph",
                trigger: ".o_control_panel .o_switch_view.o_graph",
                run: "click",
            },
            {
                content: "The graph draws the prices by month",
                trigger: ".o_graph_renderer canvas",
            },
            ...openGumroadMenu("gumroad_webhook_event_menu", "Pings"),
            {
                content: "Every received ping is in the inbox",
                trigger: `.o_list_view .o_pager_limit:text(${expected.pings})`,
            },
            {
                content: "A processed sale ping",
                trigger:
                    ".o_list_view .o_data_row:has(td[name=resource_name]:contains(sale)) td[name=state] .badge:contains(Done)",
            },
            {
                content: "A refund ping that was processed too",
                trigger:
                    ".o_list_view .o_data_row:has(td[name=resource_name]:contains(refund)) td[name=state] .badge:contains(Done)",
            },
            {
                content: "The refund ping says what re-reading the sale changed",
                trigger:
                    ".o_list_view .o_data_row:has(td[name=resource_name]:contains(refund)) td[name=result]:contains(booked: 1 changed)",
            },
            {
                content: "The Settings page's test ping is recorded, not booked",
                trigger:
                    ".o_list_view .o_data_row:has(td[name=resource_name]:contains(test)) td[name=state] .badge:contains(Ignored)",
            },
            {
                content: "Open a ping to read what Gumroad sent",
                trigger:
                    ".o_list_view .o_data_row td[name=resource_name]:contains(refund)",
                run: "click",
            },
            {
                trigger: ".o_form_view .o_field_widget[name=body]:contains(refund)",
            },
            {
                content: "The ping is linked to the sale it booked",
                trigger: ".o_form_view .o_field_widget[name=sale_id]:contains(GR-)",
            },
        ];
    },
});
