#version 330 core
// Full-screen quad showing the camera frame; u_flip mirrors and/or turns the picture over
// in clip space (offscreen targets are drawn upside down so readback rows come out top first).
in vec2 in_position;
uniform vec2 u_flip;
out vec2 v_uv;

void main() {
    // Texture row 0 is the image's top row, so the top of the screen samples v = 0.
    v_uv = vec2(in_position.x * 0.5 + 0.5, 0.5 - in_position.y * 0.5);
    gl_Position = vec4(in_position * u_flip, 0.0, 1.0);
}
