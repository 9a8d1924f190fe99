#version 330 core
// A texture laid out on the canonical face UVs. u_blend: 0 normal (alpha over),
// 1 multiply (blend func DST_COLOR, ZERO), 2 add (blend func SRC_ALPHA, ONE).
// u_shading (normal blend): how much of the skin's own shading shows through the paint. The
// paint (in linear light) is multiplied by the frame's luminance under it over the face's mean
// luminance, so highlights, shadows, pores and creases stay; 0 paints flat colour.
in vec2 v_uv;
uniform sampler2D u_texture;
uniform float u_opacity;
uniform int u_blend;
uniform float u_shading;
uniform sampler2D u_frame;       // the camera frame (sRGB values)
uniform vec4 u_frame_uv;         // gl_FragCoord.xy * xy + zw -> the frame's UV
uniform float u_face_luminance;  // the face's mean linear luminance
out vec4 f_color;

void main() {
    vec4 paint = texture(u_texture, v_uv);
    float alpha = paint.a * u_opacity;
    if (alpha <= 0.0) {
        discard;
    }
    if (u_blend == 1) {
        f_color = vec4(mix(vec3(1.0), paint.rgb, alpha), 1.0);
        return;
    }
    if (u_blend == 0 && u_shading > 0.0) {
        // Gamma 2.2 stands in for the sRGB curve here (two pow a pixel instead of nine): the
        // skin's linear luminance, and the paint scaled in linear light.
        vec3 skin = texture(u_frame, gl_FragCoord.xy * u_frame_uv.xy + u_frame_uv.zw).rgb;
        float luminance = pow(dot(skin, vec3(0.2126, 0.7152, 0.0722)), 2.2);
        float ratio = clamp(luminance / max(u_face_luminance, 1e-3), 0.0, 3.0);
        paint.rgb = min(paint.rgb * pow(mix(1.0, ratio, u_shading), 1.0 / 2.2), vec3(1.0));
    }
    f_color = vec4(paint.rgb, alpha);
}
