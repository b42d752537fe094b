/**
 * The tours' expectations come from tests/test_tours.py in the start URL's query
 * string (`?gumroad_<name>=...`): the sandbox listens on a port chosen at run time.
 */
import {browser} from "@web/core/browser/browser";

/**
 * Read `gumroad_<name>` for each name; `names` maps the key to return to the name.
 * A missing parameter is an error: the tour was started without it.
 */
export function tourParams(names) {
    const params = new URLSearchParams(browser.location.search);
    const result = {};
    for (const [key, name] of Object.entries(names)) {
        const text = params.get(`gumroad_${name}`);
        if (!text) {
            throw new Error(`The tour needs ?gumroad_${name}=... in its start URL`);
        }
        result[key] = text;
    }
    return result;
}
