// Start the labeling app on a page of this server: its configuration is the page's JSON block.
import { mount } from "./app.js";

const config = JSON.parse(document.getElementById("wikiloom-config").textContent);
window.wikiloom = mount(document.getElementById("wikiloom-app"), config);
