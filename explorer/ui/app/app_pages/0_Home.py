from explorer.ui.home import home_page

home_page()
