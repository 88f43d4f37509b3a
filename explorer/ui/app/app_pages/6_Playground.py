from explorer.ui.playground import playground_page

playground_page()
